//! The services' log lines, captured for assertions (`TEST_LOG=1` echoes them).

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;

/// Log lines of all services, kept for assertions, echoed with `TEST_LOG=1`.
#[derive(Clone)]
pub struct CapturedLogs {
    lines: Arc<Mutex<Vec<u8>>>,
    pub(crate) filter: String,
}

impl CapturedLogs {
    pub(crate) fn new(filter: &str) -> Self {
        CapturedLogs {
            lines: Arc::default(),
            filter: filter.to_string(),
        }
    }

    pub(crate) fn lines(&self) -> Vec<Value> {
        let bytes = self.lines.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if show_logs() {
            let _ = std::io::stdout().write_all(buf);
        }
        if let Ok(mut bytes) = self.lines.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// `TEST_LOG=1` (any value but empty or `0`) echoes the services' logs.
pub fn show_logs() -> bool {
    std::env::var("TEST_LOG").is_ok_and(|v| !v.is_empty() && v != "0")
}
