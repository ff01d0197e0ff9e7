//! The future shared by interceptors that may answer without calling the inner service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::rpc::{RpcError, RpcResult};

pin_project! {
    /// Either the inner service's future, or an error decided before calling it.
    #[project = CalledOrRejectedProj]
    #[derive(Debug)]
    pub(crate) enum CalledOrRejected<F> {
        /// The request passed; the inner service's future.
        Called { #[pin] future: F },
        /// The request was answered without calling the inner service.
        Rejected { error: Option<RpcError> },
    }
}

impl<F> CalledOrRejected<F> {
    pub(crate) fn called(future: F) -> Self {
        CalledOrRejected::Called { future }
    }

    pub(crate) fn rejected(error: RpcError) -> Self {
        CalledOrRejected::Rejected { error: Some(error) }
    }
}

impl<F> Future for CalledOrRejected<F>
where
    F: Future<Output = RpcResult>,
{
    type Output = RpcResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CalledOrRejectedProj::Called { future } => future.poll(cx),
            CalledOrRejectedProj::Rejected { error } => {
                Poll::Ready(Err(error.take().expect("ResponseFuture polled after completion")))
            }
        }
    }
}
