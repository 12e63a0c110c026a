//! What counts as a failure.
//!
//! A fuse should blow when its dependency is down, not when a client sends a
//! bad request. The [`FuseService`](crate::FuseService) therefore asks a
//! classifier what each result means for the fuse: [`Outcome::Success`],
//! [`Outcome::Failure`] (a melt) or [`Outcome::Ignored`] (counted nowhere,
//! and a probe slot given back). The response itself is returned unchanged.

use fusebox::Outcome;

/// Tells the fuse what a result means: success, failure or ignored.
///
/// Implemented by [`DefaultClassifier`], by [`HttpClassifier`] (feature
/// `http`) and by every `Fn(&Result<R, E>) -> Outcome`.
///
/// # Example
///
/// ```
/// use fusebox::Outcome;
/// use fusebox_tower::Classify;
///
/// // A "not found" is the caller's business, not the dependency's.
/// let classifier = |r: &Result<u32, &str>| match r {
///     Ok(_) => Outcome::Success,
///     Err(e) if *e == "not found" => Outcome::Ignored,
///     Err(_) => Outcome::Failure,
/// };
/// assert_eq!(classifier.classify(&Err("not found")), Outcome::Ignored);
/// assert_eq!(classifier.classify(&Err("timeout")), Outcome::Failure);
/// ```
pub trait Classify<R, E> {
    /// What `result` means for the fuse.
    fn classify(&self, result: &Result<R, E>) -> Outcome;
}

impl<R, E, F> Classify<R, E> for F
where
    F: Fn(&Result<R, E>) -> Outcome,
{
    fn classify(&self, result: &Result<R, E>) -> Outcome {
        self(result)
    }
}

/// The default: `Ok` is a success, `Err` a failure.
///
/// ```
/// use fusebox::Outcome;
/// use fusebox_tower::{Classify, DefaultClassifier};
///
/// assert_eq!(DefaultClassifier.classify(&Ok::<u8, ()>(1)), Outcome::Success);
/// assert_eq!(DefaultClassifier.classify(&Err::<u8, ()>(())), Outcome::Failure);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultClassifier;

impl<R, E> Classify<R, E> for DefaultClassifier {
    fn classify(&self, result: &Result<R, E>) -> Outcome {
        Outcome::of_result(result)
    }
}

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use self::http::HttpClassifier;

#[cfg(feature = "http")]
mod http {
    use std::fmt;

    use fusebox::Outcome;
    use http::{Response, StatusCode};

    use super::Classify;

    /// Classifies `http::Response`s (feature `http`).
    ///
    /// | result | outcome |
    /// |---|---|
    /// | `Err(_)` (connection error, timeout, ...) | failure |
    /// | a status for which the failure predicate holds (default: 5xx) | failure |
    /// | any other 4xx | ignored: the client's mistake says nothing of the dependency |
    /// | any other status (1xx, 2xx, 3xx) | success |
    ///
    /// # Example
    ///
    /// ```
    /// use fusebox::Outcome;
    /// use fusebox_tower::{Classify, HttpClassifier};
    /// use http::{Response, StatusCode};
    ///
    /// let reply = |s: u16| Ok::<_, ()>(Response::builder().status(s).body(()).unwrap());
    /// let c = HttpClassifier::new();
    /// assert_eq!(c.classify(&reply(200)), Outcome::Success);
    /// assert_eq!(c.classify(&reply(404)), Outcome::Ignored);
    /// assert_eq!(c.classify(&reply(503)), Outcome::Failure);
    /// assert_eq!(c.classify(&Err::<Response<()>, _>(())), Outcome::Failure);
    ///
    /// // Count "429 Too Many Requests" as a failure too.
    /// let c = HttpClassifier::new()
    ///     .failure_on(|s: StatusCode| s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS);
    /// assert_eq!(c.classify(&reply(429)), Outcome::Failure);
    /// assert_eq!(c.classify(&reply(400)), Outcome::Ignored);
    /// ```
    #[derive(Clone, Copy)]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub struct HttpClassifier<F = fn(StatusCode) -> bool> {
        failure_on: F,
    }

    impl HttpClassifier {
        /// 5xx and errors are failures, other 4xx ignored, the rest successes.
        pub fn new() -> Self {
            HttpClassifier {
                failure_on: is_server_error,
            }
        }
    }

    fn is_server_error(status: StatusCode) -> bool {
        status.is_server_error()
    }

    impl Default for HttpClassifier {
        fn default() -> Self {
            Self::new()
        }
    }

    impl<F> HttpClassifier<F> {
        /// Chooses which statuses are failures (the default is
        /// [`StatusCode::is_server_error`](https://docs.rs/http/1/http/status/struct.StatusCode.html#method.is_server_error)).
        /// A 4xx for which `failure_on` is false stays ignored; any other
        /// status is a success; an `Err` is always a failure.
        pub fn failure_on<G>(self, failure_on: G) -> HttpClassifier<G>
        where
            G: Fn(StatusCode) -> bool,
        {
            HttpClassifier { failure_on }
        }
    }

    impl<F> fmt::Debug for HttpClassifier<F> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("HttpClassifier").finish_non_exhaustive()
        }
    }

    impl<B, E, F> Classify<Response<B>, E> for HttpClassifier<F>
    where
        F: Fn(StatusCode) -> bool,
    {
        fn classify(&self, result: &Result<Response<B>, E>) -> Outcome {
            match result {
                Err(_) => Outcome::Failure,
                Ok(resp) if (self.failure_on)(resp.status()) => Outcome::Failure,
                Ok(resp) if resp.status().is_client_error() => Outcome::Ignored,
                Ok(_) => Outcome::Success,
            }
        }
    }
}
