//! How a call ended, as the fuse counts it: a success, a failure (a melt),
//! or neither. Classification is the caller's choice; by default `Ok` is a
//! success and `Err` a failure.

/// How a call ended, for the fuse's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// It worked: counts toward healing and against failure rates.
    Success,
    /// It failed: a melt.
    Failure,
    /// Neither (a client error, a cancellation): counted nowhere.
    Ignored,
}

impl Outcome {
    /// The default classification: `Ok` is a success, `Err` a failure.
    ///
    /// ```
    /// use fusebox::Outcome;
    /// assert_eq!(Outcome::of_result(&Ok::<u8, ()>(1)), Outcome::Success);
    /// assert_eq!(Outcome::of_result(&Err::<u8, ()>(())), Outcome::Failure);
    /// ```
    pub fn of_result<T, E>(r: &Result<T, E>) -> Outcome {
        match r {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }
}
