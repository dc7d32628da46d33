//! Which node backs up which tablets: the first deal (round-robin) and the deal of a failed node's tablets to
//! the nodes that succeeded, with the part names that keep every run's part apart.

use std::collections::BTreeSet;

/// One node's share of a coordinated backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The node that runs it.
    pub node: String,
    /// The name its part is stored under.
    pub part: String,
    /// For a retry: the node the tablets were first given to.
    pub retry_of: Option<String>,
    /// 0 for the first run of these tablets, then one more for each retry.
    pub attempt: u32,
    /// The tablets, as indexes into the coordinated backup's tablet list.
    pub tablets: Vec<usize>,
}

/// Deals `tablets` tablets to `nodes` in turn (tablet k to node k mod n); nodes left without a tablet get no
/// share. Each share's part is named after its node.
pub fn round_robin(tablets: usize, nodes: &[String]) -> Vec<Share> {
    let mut shares: Vec<Share> = nodes
        .iter()
        .map(|n| Share { node: n.clone(), part: n.clone(), retry_of: None, attempt: 0, tablets: Vec::new() })
        .collect();
    if !shares.is_empty() {
        for k in 0..tablets {
            let n = shares.len();
            shares[k % n].tablets.push(k);
        }
    }
    shares.retain(|s| !s.tablets.is_empty());
    shares
}

/// Deals the failed shares to the `healthy` nodes in turn, one attempt later. A retry's part is named
/// `<node>-for-<first node>` (with `-<attempt>` added, then a counter, should that name be taken); `used` holds
/// the part names taken so far and receives the new ones.
pub(crate) fn reassign(failed: &[Share], healthy: &[String], used: &mut BTreeSet<String>) -> Vec<Share> {
    if healthy.is_empty() {
        return Vec::new();
    }
    failed
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let node = healthy[k % healthy.len()].clone();
            let origin = s.retry_of.clone().unwrap_or_else(|| s.node.clone());
            let attempt = s.attempt + 1;
            let mut part = format!("{node}-for-{origin}");
            if used.contains(&part) {
                part = format!("{node}-for-{origin}-{attempt}");
            }
            let base = part.clone();
            let mut n = 2;
            while used.contains(&part) {
                part = format!("{base}-{n}");
                n += 1;
            }
            used.insert(part.clone());
            Share { node, part, retry_of: Some(origin), attempt, tablets: s.tablets.clone() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn round_robin_deals_in_turn_and_skips_idle_nodes() {
        let s = round_robin(7, &names(&["a", "b", "c"]));
        let got: Vec<(&str, &[usize])> = s.iter().map(|s| (s.node.as_str(), s.tablets.as_slice())).collect();
        assert_eq!(got, vec![("a", &[0, 3, 6][..]), ("b", &[1, 4][..]), ("c", &[2, 5][..])]);
        assert!(s.iter().all(|s| s.part == s.node && s.attempt == 0 && s.retry_of.is_none()));
        let s = round_robin(2, &names(&["a", "b", "c"]));
        assert_eq!(s.iter().map(|s| s.node.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(round_robin(3, &[]).is_empty());
        assert!(round_robin(0, &names(&["a"])).is_empty());
    }

    #[test]
    fn reassign_deals_failed_shares_to_healthy_nodes_with_unique_parts() {
        let first = round_robin(6, &names(&["a", "b", "c"]));
        let mut used: BTreeSet<String> = first.iter().map(|s| s.part.clone()).collect();
        let failed = vec![first[1].clone(), first[2].clone()];
        let retry = reassign(&failed, &names(&["a"]), &mut used);
        let got: Vec<(&str, &str, Option<&str>, u32)> =
            retry.iter().map(|s| (s.node.as_str(), s.part.as_str(), s.retry_of.as_deref(), s.attempt)).collect();
        assert_eq!(got, vec![("a", "a-for-b", Some("b"), 1), ("a", "a-for-c", Some("c"), 1)]);
        assert_eq!(retry[0].tablets, first[1].tablets);
        // A second failure keeps the first node's name, and the names stay unique.
        let again = reassign(&retry[..1], &names(&["a"]), &mut used);
        assert_eq!(
            (again[0].part.as_str(), again[0].retry_of.as_deref(), again[0].attempt),
            ("a-for-b-2", Some("b"), 2)
        );
        // A node whose name is taken by a part gets a counter.
        let mut used: BTreeSet<String> = names(&["x-for-y", "x-for-y-1"]).into_iter().collect();
        let y = Share { node: "y".into(), part: "y".into(), retry_of: None, attempt: 0, tablets: vec![0] };
        assert_eq!(reassign(&[y], &names(&["x"]), &mut used)[0].part, "x-for-y-1-2");
        assert!(reassign(&first, &[], &mut used).is_empty());
    }
}
