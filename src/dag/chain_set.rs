//! Auth chains as callers store them: sets of event IDs, read through a small trait so
//! that state resolution can take the chains a server keeps (per event or per state
//! group) without copying them into another set type.

use std::collections::{BTreeSet, HashSet};
use std::hash::BuildHasher;

use crate::id::EventId;

/// A set of event IDs, such as a state set's auth chain.
///
/// Implemented for `HashSet<EventId, S>` and `BTreeSet<EventId>`; implement it over
/// your own storage to hand state resolution the chains you already hold
/// ([`Resolver::with_auth_chains`](crate::state_res::Resolver::with_auth_chains)).
pub trait AuthChain {
    /// Number of event IDs.
    fn len(&self) -> usize;

    /// True when the set is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the set holds `event_id`.
    fn contains(&self, event_id: &EventId) -> bool;

    /// Calls `each` with every event ID of the set, in any order.
    fn for_each_id(&self, each: &mut dyn FnMut(&EventId));
}

/// Implements [`AuthChain`] over a std set of event IDs, through its own methods.
macro_rules! std_set_chain {
    ($($generics:tt)*) => {
        impl $($generics)* {
            fn len(&self) -> usize {
                Self::len(self)
            }

            fn contains(&self, event_id: &EventId) -> bool {
                Self::contains(self, event_id)
            }

            fn for_each_id(&self, each: &mut dyn FnMut(&EventId)) {
                self.iter().for_each(each);
            }
        }
    };
}

std_set_chain!(<S: BuildHasher> AuthChain for HashSet<EventId, S>);
std_set_chain!(AuthChain for BTreeSet<EventId>);

impl<C: AuthChain + ?Sized> AuthChain for &C {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn contains(&self, event_id: &EventId) -> bool {
        (**self).contains(event_id)
    }

    fn for_each_id(&self, each: &mut dyn FnMut(&EventId)) {
        (**self).for_each_id(each);
    }
}

/// The event IDs in some but not all of `chains` (∪ − ∩), each once, in no particular
/// order: the auth difference of state sets whose full auth chains these are.
///
/// Each ID of each chain is looked up in the other chains, so the cost is the chains'
/// total size times their number, with no set built beyond the answer.
///
/// ```
/// use std::collections::BTreeSet;
/// use matrix_serverlib::dag::chain_difference;
/// use matrix_serverlib::id::EventId;
///
/// let id = |s: &str| -> EventId { s.parse().unwrap() };
/// let first: BTreeSet<EventId> = [id("$a:x.org"), id("$b:x.org")].into();
/// let second: BTreeSet<EventId> = [id("$a:x.org"), id("$c:x.org")].into();
/// let mut difference = chain_difference(&[first, second]);
/// difference.sort();
/// assert_eq!(difference, [id("$b:x.org"), id("$c:x.org")]);
/// ```
#[must_use]
pub fn chain_difference<C: AuthChain>(chains: &[C]) -> Vec<EventId> {
    let mut difference = Vec::new();
    for (index, chain) in chains.iter().enumerate() {
        let (before, after) = chains.split_at(index);
        let after = after.get(1..).unwrap_or_default();
        chain.for_each_id(&mut |id| {
            // Reported by the first chain holding it, when some chain lacks it.
            if before.iter().any(|earlier| earlier.contains(id)) {
                return;
            }
            if !before.is_empty() || after.iter().any(|later| !later.contains(id)) {
                difference.push(id.clone());
            }
        });
    }
    difference
}
