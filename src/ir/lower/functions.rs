//! The project's functions: `fn name(param: type, …) -> type = body`.
//!
//! A function is checked once, at its definition, with each parameter
//! standing for a value of its declared type. A call is then inlined: the
//! body is lowered again with the parameters bound to the call's arguments,
//! so its types are those of the arguments, and what follows lowering (the
//! nullability analysis, the grain algebra, lineage, fingerprints,
//! emission) sees the expression itself and nothing of the function. The
//! result is cast to the declared type when the body's is narrower.
//!
//! A call is checked against the definition (count and types of the
//! arguments, T005 and T001 with the definition as a second label); a
//! function that reaches itself is T012, at the call that closes the loop;
//! a call whose expansion would be larger than [`MAX_EXPANSION`] nodes or
//! deeper than [`MAX_DEPTH`] levels is T014, found from the sizes before
//! anything is built.

use super::*;
use crate::syntax::MAX_DEPTH;

/// A function as the lowerer keeps it while resolving.
pub(super) struct FnEntry<'a> {
    def: &'a ast::FnDef,
    params: Vec<Type>,
    ret: Type,
    state: FnState,
    /// How the checked body is built, to bound an expansion: its nodes and
    /// levels, and how often each parameter occurs in it.
    size: usize,
    depth: usize,
    uses: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FnState {
    Unchecked,
    /// Its body is being checked: a call of it now is recursion.
    Checking,
    Ok,
    /// Its definition has errors, reported there: calls are not expanded.
    Broken,
}

/// The parameters of the function whose body is being lowered, bound to
/// values: placeholders of their types at the definition, the call's
/// arguments at a call.
pub(super) struct Bound {
    function: String,
    names: Vec<String>,
    values: Vec<Expr>,
}

impl Bound {
    fn get(&self, name: &str) -> Option<&Expr> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.values[i])
    }
}

/// Where a body is lowered: a scalar expression.
const BODY_CX: Cx = Cx {
    no_aggregate: Some("in a function's body"),
    window: false,
};

/// The nodes of an expression and its depth in levels.
fn shape(e: &Expr) -> (usize, usize) {
    let (mut size, mut depth) = (1, 0);
    for child in e.children() {
        let (s, d) = shape(child);
        size += s;
        depth = depth.max(d);
    }
    (size, depth + 1)
}

/// Whether an argument of type `arg` may be passed for a parameter of type
/// `param`: when it widens to it (an integer to `bigint`, `numeric` or
/// `double`; a date to `timestamp`). `numeric` without precision takes any
/// integer or decimal, and an unconstrained decimal (a literal such as
/// `1.5`) fits any `numeric(p, s)`.
pub(super) fn widens(arg: Type, param: Type) -> bool {
    arg.is_wildcard()
        || match (arg, param) {
            (Type::Numeric(_) | Type::Integer | Type::BigInt, Type::Numeric(None)) => true,
            (Type::Numeric(None), Type::Numeric(Some(_))) => true,
            _ => arg.unify(param) == Some(param),
        }
}

impl<'a> Lowerer<'a> {
    pub(super) fn declare_function(&mut self, def: &'a ast::FnDef) {
        let key = def.name.name.to_ascii_lowercase();
        if key == "var" || library::lookup(&key).is_some() {
            self.push(Problem::BuiltinName {
                span: def.name.span,
                name: def.name.name.clone(),
            });
            return;
        }
        if let Some(first) = self.functions.get(&key) {
            let first = first.def.name.span;
            self.duplicate(NameKind::Function, &def.name, first);
            return;
        }
        for (i, param) in def.params.iter().enumerate() {
            if let Some(first) = def.params[..i]
                .iter()
                .find(|p| p.name.name == param.name.name)
            {
                self.duplicate(NameKind::Parameter, &param.name, first.name.span);
            }
        }
        let params: Vec<Type> = def.params.iter().map(|p| self.type_name(&p.ty)).collect();
        let ret = self.type_name(&def.ret);
        let doc = self.resolve_doc(def.doc.clone(), def.name.span);
        self.ir.functions.push(Function {
            name: def.name.name.clone(),
            doc,
            params: def
                .params
                .iter()
                .map(|p| p.name.name.clone())
                .zip(params.iter().copied())
                .collect(),
            ret,
            name_span: def.name.span,
            span: def.span,
        });
        self.functions.insert(
            key,
            FnEntry {
                def,
                uses: vec![0; params.len()],
                params,
                ret,
                state: FnState::Unchecked,
                size: 0,
                depth: 0,
            },
        );
    }

    /// Checks every function's definition, called or not.
    pub(super) fn check_functions(&mut self) {
        for index in 0..self.functions.len() {
            self.check_function(index);
        }
    }

    /// Checks one definition: its body, with each parameter a value of its
    /// declared type, must have the declared type (T013).
    fn check_function(&mut self, index: usize) {
        let entry = &self.functions[index];
        if entry.state != FnState::Unchecked {
            return;
        }
        let (def, ret) = (entry.def, entry.ret);
        let placeholders: Vec<Expr> = def
            .params
            .iter()
            .zip(&entry.params)
            .map(|(p, ty)| Expr {
                kind: ExprKind::Error,
                ty: *ty,
                span: p.name.span,
            })
            .collect();
        self.functions[index].state = FnState::Checking;
        self.fn_stack.push(index);
        let before = self.problems.len();
        let body = self.body(def, placeholders);
        self.fn_stack.pop();
        if !widens(body.ty, ret) && !ret.is_wildcard() {
            self.push(Problem::ReturnType {
                span: body.span,
                function: def.name.name.clone(),
                declared: (def.ret.span, ret.to_string()),
                found: body.ty.to_string(),
            });
        }
        let broken = self.problems[before..].iter().any(Problem::is_error);
        // Where each parameter occurs: its placeholder's span.
        let mut uses = vec![0; def.params.len()];
        body.walk(&mut |e| {
            if matches!(e.kind, ExprKind::Error)
                && let Some(i) = def.params.iter().position(|p| p.name.span == e.span)
            {
                uses[i] += 1;
            }
        });
        let (size, depth) = shape(&body);
        let entry = &mut self.functions[index];
        // A recursion found inside marked it broken already.
        if entry.state == FnState::Checking {
            entry.state = if broken { FnState::Broken } else { FnState::Ok };
        }
        (entry.size, entry.depth, entry.uses) = (size, depth, uses);
    }

    /// The body of `def`, lowered with its parameters bound to `values`.
    fn body(&mut self, def: &'a ast::FnDef, values: Vec<Expr>) -> Expr {
        let bound = Bound {
            function: def.name.name.clone(),
            names: def.params.iter().map(|p| p.name.name.clone()).collect(),
            values,
        };
        let scope = Scope {
            scans: &[],
            silent: false,
            params: Some(&bound),
        };
        self.expr(&scope, BODY_CX, &def.body)
    }

    /// A name in a function's body: one of its parameters, or R002.
    pub(super) fn parameter(
        &mut self,
        bound: &Bound,
        qualifier: Option<&ast::Ident>,
        name: &ast::Ident,
        span: Span,
    ) -> Expr {
        if qualifier.is_none()
            && let Some(value) = bound.get(&name.name)
        {
            return value.clone();
        }
        let shown = qualifier.unwrap_or(name);
        self.push(Problem::UnknownParameter {
            span,
            name: match qualifier {
                Some(q) => format!("{}.{}", q.name, name.name),
                None => name.name.clone(),
            },
            function: bound.function.clone(),
            params: bound.names.clone(),
            suggestion: suggest(&shown.name, bound.names.iter().map(String::as_str)),
        });
        Expr {
            kind: ExprKind::Error,
            ty: Type::Unknown,
            span,
        }
    }

    /// A call of one of the project's functions (`name`, lowercase),
    /// inlined; `None` when the name is none of theirs.
    pub(super) fn call_function(
        &mut self,
        scope: &Scope,
        cx: Cx,
        call: &ast::Call,
        name: &str,
        span: Span,
    ) -> Option<Expr> {
        let index = self.functions.get_index_of(name)?;
        if self.functions[index].state == FnState::Unchecked {
            self.check_function(index);
        }
        let entry = &self.functions[index];
        let (def, ret) = (entry.def, entry.ret);
        let function = def.name.name.clone();
        let defined = def.name.span;
        let failed = Expr {
            kind: ExprKind::Error,
            ty: ret,
            span,
        };
        let args: Vec<Expr> = call.args.iter().map(|a| self.expr(scope, cx, a)).collect();
        if call.star || call.distinct || call.filter.is_some() || call.over.is_some() {
            self.push(Problem::WindowMisuse {
                span,
                function,
                reason: "a function of the project takes plain arguments: no `*`, `distinct`, `filter` or `over`",
            });
            return Some(failed);
        }
        match self.functions[index].state {
            FnState::Checking => {
                // The loop: from this function's check to the call.
                let start = self.fn_stack.iter().position(|i| *i == index).unwrap_or(0);
                let on_loop = self.fn_stack[start..].to_vec();
                let mut path: Vec<String> = on_loop
                    .iter()
                    .map(|i| self.functions[*i].def.name.name.clone())
                    .collect();
                path.push(function.clone());
                // Every function on the loop is broken: its calls are not expanded.
                for i in on_loop {
                    self.functions[i].state = FnState::Broken;
                }
                self.push(Problem::RecursiveFunction {
                    span,
                    function,
                    defined,
                    path,
                });
                return Some(failed);
            }
            FnState::Broken => return Some(failed),
            FnState::Ok | FnState::Unchecked => {}
        }
        let entry = &self.functions[index];
        if args.len() != entry.params.len() {
            let n = entry.params.len();
            self.push(Problem::ArgumentCount {
                span,
                function,
                expected: format!("{n} argument{}", if n == 1 { "" } else { "s" }),
                found: args.len(),
                defined: Some(defined),
            });
            return Some(failed);
        }
        let mut ok = true;
        for (i, (arg, param)) in args.iter().zip(entry.params.clone()).enumerate() {
            if !widens(arg.ty, param) {
                ok = false;
                self.push(Problem::ArgumentType {
                    span: arg.span,
                    function: function.clone(),
                    position: i + 1,
                    expected: format!("{param} (parameter `{}`)", def.params[i].name.name),
                    found: arg.ty.to_string(),
                    cast_to: Some(param.to_string()),
                    defined: Some(defined),
                });
            }
        }
        if !ok {
            return Some(failed);
        }
        let entry = &self.functions[index];
        let (mut nodes, mut depth) = (entry.size, entry.depth);
        for (arg, uses) in args.iter().zip(&entry.uses) {
            if *uses > 0 {
                // Each use of the parameter, one node, becomes the argument.
                let (s, d) = shape(arg);
                nodes = nodes.saturating_add(uses.saturating_mul(s - 1));
                depth = depth.max(entry.depth - 1 + d);
            }
        }
        if nodes > MAX_EXPANSION || depth > MAX_DEPTH {
            self.push(Problem::ExpansionTooLarge {
                span,
                function,
                defined,
                nodes,
                depth,
            });
            return Some(failed);
        }
        let mut body = self.body(def, args);
        if body.ty != ret && body.ty != Type::Unknown {
            body = Expr {
                kind: ExprKind::Cast {
                    expr: Box::new(body),
                    ty: ret,
                    safe: false,
                },
                ty: ret,
                span,
            };
        }
        body.span = span;
        Some(body)
    }
}
