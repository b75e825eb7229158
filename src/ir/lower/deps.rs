//! Pass 2: bind each model's `from` and `join` to a relation, and order the
//! dependency graph (cycles are reported with their path).

use super::*;

impl<'a> Lowerer<'a> {
    pub(super) fn resolve_relation(&mut self, relation: &ast::RelationRef) -> Option<RelId> {
        let name = relation.dotted();
        if let Some(id) = self.ir.by_name.get(&name) {
            return Some(*id);
        }
        let head = relation
            .parts
            .first()
            .map(|p| p.name.as_str())
            .unwrap_or("");
        if !self.broken.contains(name.as_str()) && !self.broken.contains(head) {
            let suggestion = suggest(&name, self.ir.by_name.keys().map(String::as_str));
            self.push(Problem::UnknownRelation {
                span: relation.span,
                name,
                suggestion,
            });
        }
        None
    }

    pub(super) fn bind_dependencies(&mut self) {
        let models = std::mem::take(&mut self.models);
        for (id, def, _) in &models {
            for clause in &def.clauses {
                let relations = match clause {
                    Clause::From {
                        relation,
                        series: None,
                        ..
                    }
                    | Clause::Join {
                        relation,
                        series: None,
                        ..
                    } => std::slice::from_ref(relation),
                    Clause::Union { relations, .. } => relations.as_slice(),
                    _ => &[],
                };
                for relation in relations {
                    if let Some(dep) = self.resolve_relation(relation) {
                        self.add_dep(*id, dep, relation.span);
                    }
                }
            }
        }
        self.models = models;
        let snapshots = std::mem::take(&mut self.snapshots);
        for (id, def) in &snapshots {
            if let Some(from) = &def.from
                && let Some(dep) = self.resolve_relation(from)
            {
                self.add_dep(*id, dep, from.span);
            }
        }
        self.snapshots = snapshots;
    }

    pub(super) fn add_dep(&mut self, rel: RelId, dep: RelId, span: Span) {
        self.ref_spans.entry((rel, dep)).or_insert(span);
        let deps = &mut self.ir.relations[rel.index()].deps;
        if !deps.contains(&dep) {
            deps.push(dep);
        }
    }

    /// Orders relations so that each comes after what it reads; reports cycles.
    pub(super) fn order(&mut self) {
        let n = self.ir.relations.len();
        let mut graph = DiGraph::<(), ()>::with_capacity(n, n);
        for _ in 0..n {
            graph.add_node(());
        }
        for relation in &self.ir.relations {
            for dep in &relation.deps {
                graph.add_edge(
                    NodeIndex::new(relation.id.index()),
                    NodeIndex::new(dep.index()),
                    (),
                );
            }
        }
        // Tarjan yields components in reverse topological order of the
        // "reads" edges: what is read comes first.
        for component in petgraph::algo::tarjan_scc(&graph) {
            let first = RelId(component[0].index() as u32);
            let cyclic = component.len() > 1 || self.ir.relation(first).deps.contains(&first);
            if !cyclic {
                self.ir.order.push(first);
                continue;
            }
            let members: HashSet<RelId> =
                component.iter().map(|n| RelId(n.index() as u32)).collect();
            let start = *members.iter().min().expect("non-empty component");
            let path = self.cycle_path(start, &members);
            let path = path
                .iter()
                .enumerate()
                .map(|(i, rel)| {
                    let next = path[(i + 1) % path.len()];
                    let span = self
                        .ref_spans
                        .get(&(*rel, next))
                        .copied()
                        .unwrap_or(self.ir.relation(*rel).name_span);
                    (self.ir.relation(*rel).name.clone(), span)
                })
                .collect();
            self.push(Problem::Cycle { path });
            for member in members {
                self.ir.relations[member.index()].complete = false;
            }
        }
    }

    /// A shortest cycle through `start` inside one strongly connected component.
    pub(super) fn cycle_path(&self, start: RelId, members: &HashSet<RelId>) -> Vec<RelId> {
        let mut previous: HashMap<RelId, RelId> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(rel) = queue.pop_front() {
            for dep in &self.ir.relation(rel).deps {
                if *dep == start {
                    let mut path = vec![rel];
                    let mut cursor = rel;
                    while cursor != start {
                        cursor = previous[&cursor];
                        path.push(cursor);
                    }
                    path.reverse();
                    return path;
                }
                if members.contains(dep) && !previous.contains_key(dep) && *dep != start {
                    previous.insert(*dep, rel);
                    queue.push_back(*dep);
                }
            }
        }
        vec![start]
    }
}
