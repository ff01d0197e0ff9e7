//! Custom stacks: your own layers run, in onion order, around the handler.

use std::sync::{Arc, Mutex};

use interceptor_bench::greeter::{Greeter, SAY_HELLO};
use interceptor_bench::rpc::RpcRequest;
use interceptor_bench::stack::{Interceptor, Interceptors, Stack};
use tower::{Layer, ServiceExt, service_fn};

/// A layer that records its name when a call enters it.
#[derive(Clone)]
struct Record {
    name: &'static str,
    log: Arc<Mutex<Vec<&'static str>>>,
}

impl<S> Layer<S> for Record
where
    S: tower::Service<RpcRequest> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    type Service = tower::util::BoxCloneSyncService<RpcRequest, S::Response, S::Error>;

    fn layer(&self, inner: S) -> Self::Service {
        let (name, log) = (self.name, self.log.clone());
        tower::util::BoxCloneSyncService::new(service_fn(move |request| {
            log.lock().unwrap().push(name);
            inner.clone().oneshot(request)
        }))
    }
}

#[tokio::test]
async fn custom_layers_run_outermost_first_around_builtin_interceptors() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let stack = Stack::builder("mine")
        .layer("outer", Record { name: "outer", log: log.clone() })
        .interceptor(Interceptor::Timeout)
        .layer("inner", Record { name: "inner", log: log.clone() })
        .build();
    assert_eq!(stack.interceptor_names(), ["outer", "timeout", "inner"]);
    assert_eq!(stack.len(), 3);

    let service = stack.service(&Interceptors::default(), Greeter::new());
    let request = RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}));
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.message["message"], "Hello, Ada!");
    assert_eq!(*log.lock().unwrap(), ["outer", "inner"]);
}
