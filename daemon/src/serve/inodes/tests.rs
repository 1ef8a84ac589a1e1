use super::*;

fn p(s: &str) -> VolPath {
    VolPath::parse(s).unwrap()
}

fn acquire(t: &mut Inodes, parent: u64, path: &str, dir: bool, view: View, ino: u64) -> u64 {
    t.acquire(parent, &p(path), dir, view, true, ino).unwrap()
}

#[test]
fn views_are_distinct_and_names_case_insensitive() {
    let mut t = Inodes::new();
    let d = acquire(&mut t, ROOT_INO, "DCIM", true, View::Real, 100);
    let x = acquire(&mut t, d, "DCIM/a.jpg", false, View::Real, 101);
    let y = acquire(&mut t, d, "DCIM/a.jpg", false, View::Redacted, 101);
    assert_ne!(x, y);
    assert_eq!(acquire(&mut t, d, "DCIM/A.JPG", false, View::Real, 101), x);
    assert_eq!(t.get(x).unwrap().path.as_str(), "DCIM/A.JPG");
    assert_eq!(x, 101);
    assert_eq!(y, 101 | VIEW_BIT);
    assert_eq!(t.get(y).unwrap().lower_ino, 101);
    t.forget(x, 2, false);
    assert!(t.get(x).is_none());
    assert!(t.get(y).is_some());
    // Forgotten and looked up again: the same st_ino.
    assert_eq!(acquire(&mut t, d, "DCIM/a.jpg", false, View::Real, 101), x);
    // Replaced behind our back (new lower inode): a new node, the old one detached.
    assert_eq!(
        acquire(&mut t, d, "DCIM/a.jpg", false, View::Real, 102),
        102
    );
    assert!(t.get(x).unwrap().detached);
    assert!(!t.get(102).unwrap().detached);
}

#[test]
fn rename_moves_everything_below_a_directory() {
    let mut t = Inodes::new();
    let d = acquire(&mut t, ROOT_INO, "Pictures", true, View::Real, 10);
    let s = acquire(&mut t, d, "Pictures/Trip", true, View::Real, 11);
    let f = acquire(&mut t, s, "Pictures/Trip/a.jpg", false, View::Real, 12);
    let other = acquire(&mut t, ROOT_INO, "Music", true, View::Real, 20);
    assert!(t.rename(d, "trip", other, &p("Music/Holiday")).is_empty());
    assert_eq!(t.get(f).unwrap().path.as_str(), "Music/Holiday/a.jpg");
    assert_eq!(t.get(s).unwrap().parent, other);
    assert_eq!(t.find(other, "HOLIDAY", View::Real), Some(s));
    assert_eq!(t.find(d, "Trip", View::Real), None);
    // A case-only rename detaches the node: the other spelling may have been another lower
    // file, which the rename replaced (torture seed 636811173: a held name served the wrong
    // file's bytes when the node was kept).
    assert_eq!(
        t.rename(other, "holiday", other, &p("Music/HOLIDAY")),
        vec![s]
    );
    assert!(t.get(s).unwrap().detached);
}

#[test]
fn rename_over_a_name_detaches_what_it_held() {
    let mut t = Inodes::new();
    let d = acquire(&mut t, ROOT_INO, "Download", true, View::Real, 10);
    let a = acquire(&mut t, d, "Download/a.txt", false, View::Real, 11);
    let b = acquire(&mut t, d, "Download/b.txt", false, View::Real, 12);
    assert_eq!(t.rename(d, "a.txt", d, &p("Download/B.TXT")), vec![b]);
    assert!(t.get(b).unwrap().detached);
    assert_eq!(t.find(d, "b.txt", View::Real), Some(a));
    assert_eq!(t.get(a).unwrap().path.as_str(), "Download/B.TXT");
}

#[test]
fn forget_releases_every_node_and_slots_are_reused() {
    let mut t = Inodes::new();
    let d = acquire(&mut t, ROOT_INO, "DCIM", true, View::Real, 10);
    for i in 0..1000u64 {
        acquire(
            &mut t,
            d,
            &format!("DCIM/f{i}.jpg"),
            false,
            View::Real,
            100 + i,
        );
    }
    assert_eq!(t.len(), 1002);
    for i in 0..1000u64 {
        t.forget(100 + i, 1, false);
    }
    assert_eq!(t.len(), 2);
    for i in 0..1000u64 {
        assert_eq!(t.find(d, &format!("f{i}.jpg"), View::Real), None);
    }
    let slots = t.slots();
    for i in 0..1000u64 {
        acquire(
            &mut t,
            d,
            &format!("DCIM/g{i}.jpg"),
            false,
            View::Real,
            5000 + i,
        );
    }
    assert_eq!(t.slots(), slots, "freed slots are reused");
    assert_eq!(t.get(5999).unwrap().path.as_str(), "DCIM/g999.jpg");
}

#[test]
fn a_directory_outlives_its_forget_while_a_child_is_held_open() {
    let mut t = Inodes::new();
    let d = acquire(&mut t, ROOT_INO, "Download", true, View::Real, 10);
    let f = acquire(
        &mut t,
        d,
        "Download/long-file-name-beyond-inline.bin",
        false,
        View::Real,
        11,
    );
    // The kernel forgot the file while it was open, then the directory.
    t.forget(f, 1, true);
    t.forget(d, 1, false);
    assert_eq!(
        t.get(f).unwrap().path.as_str(),
        "Download/long-file-name-beyond-inline.bin"
    );
    // The file's last handle closes: both go.
    t.release_if_unused(f);
    assert!(t.get(f).is_none());
    assert!(t.get(d).is_none());
    assert_eq!(t.len(), 1);
}

#[test]
fn a_node_costs_36_bytes() {
    assert!(
        std::mem::size_of::<Node>() <= 48,
        "{}",
        std::mem::size_of::<Node>()
    );
}
