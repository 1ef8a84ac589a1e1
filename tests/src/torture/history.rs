//! Racing operations make some outcomes legitimately open: an app that reads a file while its
//! owner rewrites it may see either version. Every piece of model state therefore keeps, next to
//! its current value, the values it had while changes were in flight. An operation that ran
//! from tick `t0` to tick `t1` is checked against every value the state could have had in that
//! window — exact when nothing raced it, and no looser than the race allows when something did.

/// One value of the model plus the recent changes to it.
#[derive(Clone, Debug)]
pub struct History<V> {
    pub current: V,
    log: Vec<Change<V>>,
}

#[derive(Clone, Debug)]
struct Change<V> {
    id: u64,
    begin: u64,
    end: Option<u64>,
    /// The value before the change and any value it passes through while in flight.
    states: Vec<V>,
}

impl<V: Clone> History<V> {
    pub fn new(v: V) -> History<V> {
        History {
            current: v,
            log: Vec::new(),
        }
    }

    /// A change starts at tick `t`: the current value and `during` become possible.
    pub fn begin(&mut self, id: u64, t: u64, during: Vec<V>) {
        let mut states = vec![self.current.clone()];
        states.extend(during);
        self.log.push(Change {
            id,
            begin: t,
            end: None,
            states,
        });
    }

    /// The change `id` ends at tick `t` with the value `after`.
    pub fn end(&mut self, id: u64, t: u64, after: V) {
        if let Some(c) = self.log.iter_mut().find(|c| c.id == id && c.end.is_none()) {
            c.end = Some(t);
        }
        self.current = after;
    }

    /// Every value the state could have had between ticks `t0` and `t1`.
    pub fn candidates(&self, t0: u64, t1: u64) -> Vec<V> {
        self.candidates_except(t0, t1, &[])
    }

    /// [`History::candidates`], leaving out the changes `skip` (an operation's own changes,
    /// which it does not race).
    pub fn candidates_except(&self, t0: u64, t1: u64, skip: &[u64]) -> Vec<V> {
        let mut v = vec![self.current.clone()];
        for c in &self.log {
            if skip.contains(&c.id) {
                continue;
            }
            if c.begin <= t1 && c.end.is_none_or(|e| e >= t0) {
                v.extend(c.states.iter().cloned());
            }
        }
        v
    }

    /// True while a change is in flight.
    pub fn busy(&self) -> bool {
        self.log.iter().any(|c| c.end.is_none())
    }

    /// Forgets changes that ended before every running operation started.
    pub fn prune(&mut self, oldest_running: u64) {
        self.log
            .retain(|c| c.end.is_none_or(|e| e >= oldest_running));
    }

    pub fn is_quiet(&self) -> bool {
        self.log.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn racing_window_sees_before_during_and_after() {
        let mut h = History::new(1);
        h.begin(7, 10, vec![2]);
        assert_eq!(
            h.candidates(5, 8),
            vec![1],
            "a window before the change sees one value"
        );
        h.end(7, 20, 3);
        let mut c = h.candidates(15, 25);
        c.sort();
        assert_eq!(c, vec![1, 2, 3]);
        assert_eq!(
            h.candidates(21, 30),
            vec![3],
            "a window after the change is exact"
        );
        h.prune(21);
        assert!(h.is_quiet());
    }
}
