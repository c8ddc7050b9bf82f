//! The names of the server spans, `{method} {route}`, made once per method and route: every request of a route
//! has the same name, which was formatted and copied twice per request (the field's text, then the span's own
//! copy of it).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// The most names kept, for the life of the process: a service's routes times its methods are far fewer (routes
/// are templates, methods the nine standard ones or `HTTP`); past it, a name is made per request again.
const MAX_NAMES: usize = 1024;

/// Every name made so far.
static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

/// Recently used names per thread, most recent first: a request looks here, not under the lock.
const RECENT_NAMES: usize = 8;

thread_local! {
    static RECENT: RefCell<[Option<&'static str>; RECENT_NAMES]> =
        const { RefCell::new([None; RECENT_NAMES]) };
}

/// `{method} {route}`, the same string for every request of the route; `None` once [`MAX_NAMES`] are kept.
pub(super) fn route_name(method: &str, route: &str) -> Option<&'static str> {
    let is_it = |name: &str| {
        name.len() == method.len() + 1 + route.len()
            && name.starts_with(method)
            && name.ends_with(route)
            && name.as_bytes()[method.len()] == b' '
    };
    RECENT.with(|recent| {
        let mut recent = recent.borrow_mut();
        if let Some(name) = recent.iter().flatten().copied().find(|name| is_it(name)) {
            return Some(name);
        }
        let name = kept(format!("{method} {route}"))?;
        recent.rotate_right(1);
        recent[0] = Some(name);
        Some(name)
    })
}

/// `name` as the string kept for it, kept now if there is room.
fn kept(name: String) -> Option<&'static str> {
    kept_in(
        &mut NAMES.lock().unwrap_or_else(PoisonError::into_inner),
        name,
    )
}

fn kept_in(names: &mut BTreeSet<&'static str>, name: String) -> Option<&'static str> {
    if let Some(known) = names.get(name.as_str()) {
        return Some(known);
    }
    if names.len() >= MAX_NAMES {
        return None;
    }
    let name: &'static str = Box::leak(name.into_boxed_str());
    names.insert(name);
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_has_one_name_made_once() {
        let first = route_name("GET", "/names/{id}").unwrap();
        assert_eq!(first, "GET /names/{id}");
        let again = route_name("GET", &String::from("/names/{id}")).unwrap();
        assert!(std::ptr::eq(first, again), "the same string, not a new one");
        // Another thread finds the same string under the lock.
        let other = std::thread::spawn(|| {
            route_name("GET", "/names/{id}").unwrap() as *const str as *const u8 as usize
        })
        .join()
        .unwrap();
        assert_eq!(other, first.as_ptr() as usize);
        assert_eq!(route_name("POST", "/names/{id}"), Some("POST /names/{id}"));
        // A route whose text starts and ends like another's is still told apart.
        assert_eq!(
            route_name("GET", "/names/{id}/x/names/{id}"),
            Some("GET /names/{id}/x/names/{id}")
        );
    }

    #[test]
    fn names_stop_being_kept_at_the_bound() {
        // A set of its own: filling the process's would leave the other tests none.
        let mut names = BTreeSet::new();
        for i in 0..MAX_NAMES {
            assert!(kept_in(&mut names, format!("PATCH /bound/{i}")).is_some());
        }
        assert_eq!(
            kept_in(&mut names, "PATCH /bound/0".into()),
            Some("PATCH /bound/0")
        );
        assert_eq!(kept_in(&mut names, "PATCH /one/too/many".into()), None);
        assert_eq!(names.len(), MAX_NAMES);
    }
}
