//! Log capture for the whole test binary: one global `tracing` subscriber at TRACE writing into
//! memory, installed by the first test that asks for it. Every test's log lines land in it, so a
//! check that no token appears covers the whole binary's logging.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        captured
    })
}

/// Starts capturing (idempotent).
pub fn start() {
    captured();
}

/// Everything logged so far in this test binary.
pub fn logs() -> String {
    String::from_utf8_lossy(&captured().0.lock().unwrap()).into_owned()
}
