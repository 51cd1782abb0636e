//! Taking the terminal over and giving it back.
//!
//! [`Screen`] puts the terminal in raw mode on the alternate screen while the dashboard is
//! shown. Hidden (`d`), the main screen is back and the gateway's log lines stream to it as
//! without the dashboard, while raw mode stays on so that a single `d` brings the dashboard back
//! ([`LogOutput`] turns `\n` into `\r\n` meanwhile). Dropping the screen — on quit, or unwinding
//! from a panic — restores the terminal, and a panic hook restores it before the panic message
//! is printed, so the message is readable.
//!
//! [`LogOutput`] is where the gateway's log formatter writes: stdout, except while the dashboard
//! is shown (the lines are in the dashboard's log panel then).

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::ThreadId;

/// Where log lines written to stdout go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    /// Straight to stdout.
    Plain = 0,
    /// Nowhere: the dashboard is shown (and has the lines in its log panel).
    Hidden = 1,
    /// To stdout with `\r\n` line ends: the dashboard is hidden but the terminal is in raw mode.
    Raw = 2,
}

static MODE: AtomicU8 = AtomicU8::new(Mode::Plain as u8);

fn set_mode(mode: Mode) {
    MODE.store(mode as u8, Ordering::Release);
}

/// Keeps log lines off stdout from now on, until the dashboard takes the terminal over (and
/// gives it back): for `--dashboard`, whose log belongs in the dashboard's panel from the start.
pub fn hold_log() {
    set_mode(Mode::Hidden);
}

/// The log formatter's writer (`tracing_subscriber::fmt().with_writer(LogOutput)`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LogOutput;

impl Write for LogOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match MODE.load(Ordering::Acquire) {
            mode if mode == Mode::Hidden as u8 => Ok(buf.len()),
            mode if mode == Mode::Raw as u8 => {
                let mut stdout = io::stdout().lock();
                for (index, part) in buf.split(|&b| b == b'\n').enumerate() {
                    if index > 0 {
                        stdout.write_all(b"\r\n")?;
                    }
                    stdout.write_all(part)?;
                }
                Ok(buf.len())
            }
            _ => io::stdout().lock().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogOutput {
    type Writer = LogOutput;

    fn make_writer(&'a self) -> Self::Writer {
        LogOutput
    }
}

/// The thread that owns the screen: a panic there restores the terminal (a panic elsewhere —
/// a proxy worker, which is restarted — leaves the dashboard as it is).
static OWNER: Mutex<Option<ThreadId>> = Mutex::new(None);

fn restore() {
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
    let _ = disable_raw_mode();
    set_mode(Mode::Plain);
}

/// Installs (once) the panic hook that restores the terminal when the screen's thread panics.
fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let owner = *OWNER.lock().unwrap_or_else(PoisonError::into_inner);
            if owner == Some(std::thread::current().id()) {
                restore();
            }
            previous(info);
        }));
    });
}

/// The terminal, taken over by the dashboard.
pub struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    shown: bool,
}

impl Screen {
    /// Raw mode, the alternate screen, no cursor; log lines stop going to stdout.
    pub fn take_over() -> io::Result<Self> {
        install_panic_hook();
        *OWNER.lock().unwrap_or_else(PoisonError::into_inner) = Some(std::thread::current().id());
        enable_raw_mode()?;
        let mut screen = Self {
            terminal: Terminal::new(CrosstermBackend::new(io::stdout()))?,
            shown: false,
        };
        screen.show()?;
        Ok(screen)
    }

    /// Whether the dashboard is on the screen (not hidden with `d`).
    pub fn is_shown(&self) -> bool {
        self.shown
    }

    /// Shows the dashboard again (after [`hide`](Self::hide)).
    pub fn show(&mut self) -> io::Result<()> {
        set_mode(Mode::Hidden);
        execute!(io::stdout(), EnterAlternateScreen, Hide)?;
        self.terminal.clear()?;
        self.shown = true;
        Ok(())
    }

    /// Hides the dashboard: the main screen is back and log lines go to it.
    pub fn hide(&mut self) -> io::Result<()> {
        execute!(io::stdout(), LeaveAlternateScreen, Show)?;
        set_mode(Mode::Raw);
        self.shown = false;
        let mut stdout = io::stdout().lock();
        stdout.write_all(
            b"gatewatch: dashboard hidden; the log follows (d shows the dashboard, q quits)\r\n",
        )?;
        stdout.flush()
    }

    /// Draws a frame (nothing while hidden).
    pub fn draw(&mut self, render: impl FnOnce(&mut ratatui::Frame)) -> io::Result<()> {
        if self.shown {
            self.terminal.draw(render)?;
        }
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
        *OWNER.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}
