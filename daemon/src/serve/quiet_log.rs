//! A logger wrapper for the serving process: an app interrupting a request (a signal while it
//! waits on the volume) makes the kernel drop that request, and fuser's reply then fails with
//! ENOENT and is logged as an ERROR. That is normal operation, not a fault: it goes to debug.

use log::{Level, Log, Metadata, Record};

pub struct QuietInterrupts<L: Log>(pub L);

/// fuser's message for a reply the kernel no longer waits for (ENOENT from /dev/fuse).
fn is_interrupted_reply(record: &Record) -> bool {
    record.level() == Level::Error
        && record.target().starts_with("fuser")
        && record
            .args()
            .to_string()
            .starts_with("Failed to send FUSE reply: No such file or directory")
}

impl<L: Log> Log for QuietInterrupts<L> {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if is_interrupted_reply(record) {
            let md = Metadata::builder()
                .level(Level::Debug)
                .target(record.target())
                .build();
            if self.0.enabled(&md) {
                self.0.log(
                    &Record::builder()
                        .metadata(md)
                        .args(format_args!(
                            "reply to an interrupted request dropped by the kernel"
                        ))
                        .build(),
                );
            }
            return;
        }
        self.0.log(record);
    }

    fn flush(&self) {
        self.0.flush();
    }
}
