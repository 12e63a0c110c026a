//! The outermost layer: what to answer when the pipeline has no value.
//!
//! A fallback turns a refusal or a failure into an answer (a cached value,
//! a default, a degraded response), given the [`PipelineError`] so it can
//! tell a fuse that is blown from a call that failed. It sits outside the
//! retries: it runs once, after the retries (and hedges) have given up, and
//! never hides a failure from the fuse, which has already counted it.
//!
//! A fallback is a type parameter of the [`Pipeline`](super::Pipeline)
//! (its answer has the call's value type), chosen on the builder:
//! [`fallback`](super::PipelineBuilder::fallback) for a closure,
//! [`fallback_value`](super::PipelineBuilder::fallback_value) for a value,
//! [`fallback_async`](super::PipelineBuilder::fallback_async) for a
//! closure returning a future. Without one, [`NoFallback`] passes the
//! error through.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::PipelineError;

/// What a pipeline answers instead of an error. Implemented by the four
/// types below; the builder chooses among them.
pub trait Fallback<T, E> {
    /// The future of the answer.
    type Future: Future<Output = Result<T, PipelineError<E>>>;

    /// Whether this fallback answers at all ([`NoFallback`] does not):
    /// only then is a fallback counted.
    fn active(&self) -> bool {
        true
    }

    /// The answer instead of `err`.
    fn fallback(&self, err: PipelineError<E>) -> Self::Future;
}

/// A fallback that can answer without awaiting: what
/// [`Pipeline::call_blocking`](super::Pipeline::call_blocking) needs.
pub trait BlockingFallback<T, E> {
    /// Whether this fallback answers at all.
    fn active(&self) -> bool {
        true
    }

    /// The answer instead of `err`.
    fn fallback_blocking(&self, err: PipelineError<E>) -> Result<T, PipelineError<E>>;
}

/// No fallback: the error is the answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFallback;

/// A closure from the error to a value: [`PipelineBuilder::fallback`](super::PipelineBuilder::fallback).
#[derive(Debug, Clone, Copy)]
pub struct FallbackFn<F>(pub(crate) F);

/// A value cloned for every fallback: [`PipelineBuilder::fallback_value`](super::PipelineBuilder::fallback_value).
#[derive(Debug, Clone, Copy)]
pub struct FallbackValue<T>(pub(crate) T);

/// A closure from the error to a future of a value:
/// [`PipelineBuilder::fallback_async`](super::PipelineBuilder::fallback_async).
#[derive(Debug, Clone, Copy)]
pub struct FallbackAsync<F>(pub(crate) F);

impl<T, E> Fallback<T, E> for NoFallback {
    type Future = Ready<Result<T, PipelineError<E>>>;
    fn active(&self) -> bool {
        false
    }
    fn fallback(&self, err: PipelineError<E>) -> Self::Future {
        ready(Err(err))
    }
}

impl<T, E> BlockingFallback<T, E> for NoFallback {
    fn active(&self) -> bool {
        false
    }
    fn fallback_blocking(&self, err: PipelineError<E>) -> Result<T, PipelineError<E>> {
        Err(err)
    }
}

impl<T, E, F: Fn(PipelineError<E>) -> T> Fallback<T, E> for FallbackFn<F> {
    type Future = Ready<Result<T, PipelineError<E>>>;
    fn fallback(&self, err: PipelineError<E>) -> Self::Future {
        ready(Ok((self.0)(err)))
    }
}

impl<T, E, F: Fn(PipelineError<E>) -> T> BlockingFallback<T, E> for FallbackFn<F> {
    fn fallback_blocking(&self, err: PipelineError<E>) -> Result<T, PipelineError<E>> {
        Ok((self.0)(err))
    }
}

impl<T: Clone, E> Fallback<T, E> for FallbackValue<T> {
    type Future = Ready<Result<T, PipelineError<E>>>;
    fn fallback(&self, _err: PipelineError<E>) -> Self::Future {
        ready(Ok(self.0.clone()))
    }
}

impl<T: Clone, E> BlockingFallback<T, E> for FallbackValue<T> {
    fn fallback_blocking(&self, _err: PipelineError<E>) -> Result<T, PipelineError<E>> {
        Ok(self.0.clone())
    }
}

impl<T, E, F, Fut> Fallback<T, E> for FallbackAsync<F>
where
    F: Fn(PipelineError<E>) -> Fut,
    Fut: Future<Output = T>,
{
    type Future = OkFuture<Fut, E>;
    fn fallback(&self, err: PipelineError<E>) -> Self::Future {
        OkFuture {
            fut: Box::pin((self.0)(err)),
            _e: std::marker::PhantomData,
        }
    }
}

/// An async fallback's answer: its future's value, as `Ok`.
pub struct OkFuture<Fut, E> {
    fut: Pin<Box<Fut>>,
    _e: std::marker::PhantomData<fn() -> E>,
}

impl<Fut, E> std::fmt::Debug for OkFuture<Fut, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OkFuture")
    }
}

impl<T, Fut: Future<Output = T>, E> Future for OkFuture<Fut, E> {
    type Output = Result<T, PipelineError<E>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.fut.as_mut().poll(cx).map(Ok)
    }
}
