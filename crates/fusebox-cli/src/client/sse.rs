//! A reader of the admin's server-sent event streams (`/events`, a code
//! trace's answer): the HTML standard's `text/event-stream` fields that
//! matter here, parsed as bytes arrive.
//!
//! It belongs to the client, not to a command: `fusebox trace`, `watch`,
//! `top` and the code trace all read streams through
//! [`Client::events`](super::Client::events) and its siblings, and none of
//! them should be the home of another's plumbing. Every line and every event
//! is capped at `--max-event` bytes: a stream that never ends a line is cut
//! off, not buffered.

use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{chain, too_large};
use crate::limit::{ByteSize, Exceeded};
use crate::Failure;

/// One server-sent event: its type (`message` if none) and data.
#[derive(Debug, Default)]
pub(crate) struct Message {
    pub(crate) event: String,
    pub(crate) data: String,
}

/// A reader of `text/event-stream` over a response body.
#[derive(Debug)]
pub(crate) struct Sse {
    body: Incoming,
    parser: Parser,
    url: String,
    max_event: ByteSize,
}

impl Sse {
    /// Reads the events of `body` (from `url`, for messages), none larger
    /// than `max_event`.
    pub(crate) fn new(body: Incoming, url: String, max_event: ByteSize) -> Self {
        Sse {
            body,
            parser: Parser::new(max_event.bytes()),
            url,
            max_event,
        }
    }

    /// The next event, or `None` when the stream ends.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: bytes read stay buffered in the parser.
    pub(crate) async fn next(&mut self) -> Result<Option<Message>, Failure> {
        loop {
            match self.parser.next_message() {
                Ok(Some(msg)) => return Ok(Some(msg)),
                Ok(None) => {}
                Err(Exceeded) => {
                    return Err(too_large(&self.url, "an event is", self.max_event));
                }
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(Failure(format!("the event stream broke: {}", chain(&e))))
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.parser.push(&data);
                    }
                }
            }
        }
    }
}

/// The fields of the HTML standard's event stream that matter here
/// (`event`, `data`; comments and other fields ignored), fed bytes as they
/// arrive, in chunks that need not end at a line.
///
/// Linear in the bytes pushed: a line is searched for a newline once (from
/// `scanned` on), and consumed lines are dropped from the buffer's front
/// only when more bytes arrive. No line, and no event, may pass `limit`
/// bytes: the stream is cut off instead of buffering it.
#[derive(Debug)]
struct Parser {
    buf: Vec<u8>,
    /// Where the unconsumed bytes start.
    start: usize,
    /// Up to where the unconsumed bytes hold no newline.
    scanned: usize,
    pending: Message,
    limit: usize,
}

impl Parser {
    fn new(limit: usize) -> Self {
        Parser {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            pending: Message::default(),
            limit,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event in the bytes pushed so far.
    fn next_message(&mut self) -> Result<Option<Message>, Exceeded> {
        loop {
            let from = self.scanned.max(self.start);
            let Some(at) = self.buf[from..].iter().position(|&b| b == b'\n') else {
                self.scanned = self.buf.len();
                // (+ 1: the line may yet end in "\r\n", and the CR is not
                // part of it.)
                if self.buf.len() - self.start > self.limit + 1 {
                    return Err(Exceeded);
                }
                return Ok(None);
            };
            let end = from + at;
            let mut line = &self.buf[self.start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            if line.len() > self.limit {
                return Err(Exceeded);
            }
            let line = String::from_utf8_lossy(line).into_owned();
            self.start = end + 1;
            self.scanned = self.start;
            if let Some(msg) = self.feed(&line)? {
                return Ok(Some(msg));
            }
        }
    }

    /// Takes one line; a blank line completes an event.
    fn feed(&mut self, line: &str) -> Result<Option<Message>, Exceeded> {
        if line.is_empty() {
            let mut msg = std::mem::take(&mut self.pending);
            if msg.data.is_empty() && msg.event.is_empty() {
                return Ok(None);
            }
            if msg.event.is_empty() {
                msg.event = "message".to_owned();
            }
            return Ok(Some(msg));
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.pending.event = value.to_owned(),
            "data" => {
                if !self.pending.data.is_empty() {
                    self.pending.data.push('\n');
                }
                self.pending.data.push_str(value);
            }
            _ => {}
        }
        if self.pending.data.len() + self.pending.event.len() > self.limit {
            return Err(Exceeded);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_splits_events_across_chunks() {
        let mut p = Parser::new(1 << 20);
        p.push(b"event: ready\ndata: {}\n\n: keep-alive\n\ndata: {\"a\"");
        let m = p.next_message().unwrap().unwrap();
        assert_eq!((m.event.as_str(), m.data.as_str()), ("ready", "{}"));
        assert!(p.next_message().unwrap().is_none());
        p.push(b":1}\r\n\r\nevent: lagged\ndata: {\"lost\":3}\n");
        let m = p.next_message().unwrap().unwrap();
        assert_eq!(
            (m.event.as_str(), m.data.as_str()),
            ("message", "{\"a\":1}")
        );
        assert!(p.next_message().unwrap().is_none());
        p.push(b"\n");
        assert_eq!(p.next_message().unwrap().unwrap().event, "lagged");
    }

    #[test]
    fn parser_takes_byte_by_byte_what_it_takes_whole() {
        let stream = b"event: ready\r\ndata: {}\r\n\r\ndata: a\ndata: b\n\n:c\n\nevent: x\n\n";
        let all = |p: &mut Parser| {
            let mut got = Vec::new();
            while let Some(m) = p.next_message().unwrap() {
                got.push((m.event, m.data));
            }
            got
        };
        let mut whole = Parser::new(64);
        whole.push(stream);
        let expected = all(&mut whole);
        assert_eq!(expected.len(), 3, "{expected:?}");
        assert_eq!(expected[1], ("message".to_owned(), "a\nb".to_owned()));
        let mut bytewise = Parser::new(64);
        let mut got = Vec::new();
        for b in stream {
            bytewise.push(&[*b]);
            got.extend(all(&mut bytewise));
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn parser_refuses_a_line_or_an_event_over_the_limit() {
        // A line that never ends: refused once it passes the limit.
        let mut p = Parser::new(8);
        p.push(b"data: 12");
        assert_eq!(p.next_message().unwrap().map(|m| m.data), None);
        p.push(b"\r");
        assert_eq!(p.next_message().unwrap().map(|m| m.data), None);
        p.push(b"3");
        assert_eq!(p.next_message().unwrap_err(), Exceeded);
        // A line at the limit is fine, and so is a CR after it.
        let mut p = Parser::new(8);
        p.push(b"data: 12\r\n\n");
        assert_eq!(p.next_message().unwrap().unwrap().data, "12");
        // Short lines adding up to an event over the limit.
        let mut p = Parser::new(8);
        p.push(b"data: 1234\ndata: 5678\n");
        assert_eq!(p.next_message().unwrap_err(), Exceeded);
    }
}
