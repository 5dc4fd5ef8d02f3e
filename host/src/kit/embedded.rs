//! The files host/build.rs embedded: templates, WIT, SDKs, by path relative to the repository.

include!(concat!(env!("OUT_DIR"), "/kit_files.rs"));

/// Every embedded file under `prefix/` as (path below `prefix`, bytes).
pub fn under(prefix: &str) -> impl Iterator<Item = (&'static str, &'static [u8])> + '_ {
    FILES.iter().filter_map(move |(path, bytes)| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(|rest| (rest, *bytes))
    })
}

/// One embedded file.
pub fn file(path: &str) -> Option<&'static [u8]> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}
