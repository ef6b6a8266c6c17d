//! Unit tests of the stored forms.

use super::*;

#[test]
fn progress_round_trips_and_absent_is_the_start() {
    let p = Progress {
        named_done: true,
        after: Some(Iri::new_unchecked("https://b.example/users/x")),
        host: "b.example".into(),
        carried: vec!["https://b.example/inbox".into()],
        batches: 3,
    };
    assert_eq!(Progress::decode(JobId(1), Some(&p.encode())).unwrap(), p);
    assert_eq!(
        Progress::decode(JobId(1), None).unwrap(),
        Progress::default()
    );
    match Progress::decode(JobId(7), Some(b"not json")) {
        Err(FanoutError::Stored { job, what, .. }) => {
            assert_eq!((job, what), (JobId(7), "progress"))
        }
        other => panic!("{other:?}"),
    }
}
