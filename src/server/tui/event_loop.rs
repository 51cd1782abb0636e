//! The dashboard's loop: keys, updates from the feed and the redraw every
//! [`REDRAW_INTERVAL`](super::REDRAW_INTERVAL), until the user quits or the loop is told to stop.

use super::REDRAW_INTERVAL;
use super::feed::{Feed, Update};
use super::model::Model;
use super::palette::Palette;
use super::screens::{self, Context, Width};
use super::terminal::Screen;
use super::view::{Command, View};
use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use std::io;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// How the loop ends and what it may do.
pub struct Control {
    /// `d` hides the dashboard (in process, where the log then goes to the terminal).
    pub can_hide: bool,
    /// After a quit key, keep drawing (saying the gateway is shutting down) until `stop`.
    pub wait_for_stop: bool,
    /// Cancelled by a quit key (or from outside: a termination signal).
    pub quit: CancellationToken,
    /// Cancelled when the loop must end.
    pub stop: CancellationToken,
    pub palette: Palette,
}

/// Runs the dashboard on `screen` until it is told to stop (or, without `wait_for_stop`, until
/// the user quits).
pub async fn run(
    screen: &mut Screen,
    model: &mut Model,
    feed: &mut Feed,
    control: &Control,
) -> io::Result<()> {
    let mut view = View::default();
    let mut keys = EventStream::new();
    let mut redraw = tokio::time::interval(REDRAW_INTERVAL);
    redraw.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut feed_open = true;
    let mut keys_open = true;
    loop {
        let mut draw_now = false;
        tokio::select! {
            () = control.stop.cancelled() => return Ok(()),
            () = control.quit.cancelled(), if !view.quitting => {
                view.quitting = true;
                view.help = false;
                if !control.wait_for_stop {
                    return Ok(());
                }
                // Hidden, the terminal shows the shutdown's log lines; shown, the status line
                // says the gateway is shutting down.
                draw_now = true;
            }
            key = keys.next(), if keys_open => match key {
                Some(Ok(Event::Key(key))) => {
                    match view.on_key(key, model.requests.iter()) {
                        Some(Command::Quit) => control.quit.cancel(),
                        Some(Command::ToggleScreen) if control.can_hide && !view.quitting => {
                            if screen.is_shown() {
                                screen.hide()?;
                            } else {
                                screen.show()?;
                            }
                        }
                        _ => {}
                    }
                    draw_now = true;
                }
                Some(Ok(Event::Resize(_, _))) => draw_now = true,
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error),
                // The terminal's input is gone: nobody can quit with a key any more.
                None => {
                    keys_open = false;
                    control.quit.cancel();
                }
            },
            update = feed.next(), if feed_open => match update {
                Some(Update::Snapshot(snapshot)) => model.load(*snapshot),
                Some(Update::Event(event)) => model.apply(event),
                Some(Update::Link(link)) => {
                    model.link = link;
                    draw_now = true;
                }
                None => feed_open = false,
            },
            _ = redraw.tick() => draw_now = true,
        }
        if draw_now {
            let now = chrono::Utc::now();
            screen.draw(|frame| {
                let context = Context {
                    model,
                    view: &view,
                    palette: control.palette,
                    width: Width::of(frame.area().width),
                    now,
                    can_hide: control.can_hide,
                };
                screens::draw(frame, &context);
            })?;
        }
    }
}
