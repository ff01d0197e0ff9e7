//! A real gRPC client, tonic, against `ibench serve` over h2c: SayHello and SayGoodbye on the
//! baseline and full listeners, `invalid_argument` on the validation listener, a deadline, gzip
//! both ways, and an unknown method.
//!
//! The client is written out with `tonic::client::Grpc` and tonic-prost's codec over two
//! hand-declared prost messages (the greeter's, `proto/greeter/v1/greeter.proto`), so no
//! `protoc` is needed to build the tests.

mod support;

use std::time::Duration;

use support::{addr_of, start_stacks};
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

#[derive(Clone, PartialEq, prost::Message)]
struct NameRequest {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MessageResponse {
    #[prost(string, tag = "1")]
    message: String,
}

/// A unary call of `greeter.v1.GreeterService/<method>`, as tonic-build's generated client makes it.
async fn call(
    channel: &Channel,
    method: &str,
    request: Request<NameRequest>,
    gzip: bool,
) -> Result<MessageResponse, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    if gzip {
        grpc = grpc.send_compressed(CompressionEncoding::Gzip).accept_compressed(CompressionEncoding::Gzip);
    }
    grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
    let path = format!("/greeter.v1.GreeterService/{method}").parse().expect("a valid path");
    let codec = tonic_prost::ProstCodec::<NameRequest, MessageResponse>::default();
    grpc.unary(request, path, codec).await.map(tonic::Response::into_inner)
}

fn hello(name: &str) -> Request<NameRequest> {
    Request::new(NameRequest { name: name.to_owned() })
}

#[test]
fn tonic_calls_every_listener_over_h2c() {
    let (_serve, listeners) = start_stacks(&["baseline", "full", "validation"], &["--discard-logs"]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let connect = |stack: &str| {
            let url = format!("http://{}", addr_of(&listeners, stack));
            async move { Channel::from_shared(url).unwrap().connect().await.unwrap() }
        };
        for stack in ["baseline", "full", "validation"] {
            let channel = connect(stack).await;
            let reply = call(&channel, "SayHello", hello("Ada"), false).await.unwrap();
            assert_eq!(reply.message, "Hello, Ada!", "{stack}");
            let reply = call(&channel, "SayGoodbye", hello("Ada"), false).await.unwrap();
            assert_eq!(reply.message, "Goodbye, Ada!", "{stack}");
        }

        let validation = connect("validation").await;
        let status = call(&validation, "SayHello", hello(""), false).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains("name"), "{status:?}");
        let baseline = connect("baseline").await;
        assert_eq!(call(&baseline, "SayHello", hello(""), false).await.unwrap().message, "Hello, !");

        // A deadline travels as grpc-timeout and a generous one does not fire.
        let mut timed = hello("Ada");
        timed.set_timeout(Duration::from_secs(5));
        assert_eq!(call(&baseline, "SayHello", timed, false).await.unwrap().message, "Hello, Ada!");

        // gzip both ways, with a message long enough for the server to compress its answer.
        let long = "a".repeat(4096);
        let reply = call(&baseline, "SayHello", hello(&long), true).await.unwrap();
        assert_eq!(reply.message, format!("Hello, {long}!"));

        let status = call(&baseline, "SayNothing", hello("Ada"), false).await.unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    });
}
