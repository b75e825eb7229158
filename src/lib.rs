#![doc = include_str!("../ARCHITECTURE.md")]

pub mod diagnostic;
pub mod problem;
pub mod span;
pub mod syntax;
