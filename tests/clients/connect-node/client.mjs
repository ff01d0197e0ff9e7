// The official Connect-ES client for Node against `ibench serve`, in the three transports a
// user would pick: Connect with its default binary protobuf, Connect JSON, and gRPC (h2c).
// Each calls SayHello and SayGoodbye on the baseline listener and expects invalid_argument
// for an empty name on the validation listener.
//
// Usage: node client.mjs BASELINE_URL VALIDATION_URL   (run by tests/connect_node.rs)
//
// The greeter's descriptor is written out here with @bufbuild/protobuf's own types (the same
// messages as proto/greeter/v1/greeter.proto), so no code generation step is needed.
import assert from "node:assert/strict";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";

const STRING = 9; // FieldDescriptorProto.Type.TYPE_STRING
const OPTIONAL = 1; // FieldDescriptorProto.Label.LABEL_OPTIONAL
const message = (name, field) => ({
  name,
  field: [{ name: field, number: 1, type: STRING, label: OPTIONAL, jsonName: field }],
});
const file = create(FileDescriptorProtoSchema, {
  name: "greeter/v1/greeter.proto",
  package: "greeter.v1",
  syntax: "proto3",
  messageType: [
    message("SayHelloRequest", "name"),
    message("SayHelloResponse", "message"),
    message("SayGoodbyeRequest", "name"),
    message("SayGoodbyeResponse", "message"),
  ],
  service: [
    {
      name: "GreeterService",
      method: [
        { name: "SayHello", inputType: ".greeter.v1.SayHelloRequest", outputType: ".greeter.v1.SayHelloResponse" },
        { name: "SayGoodbye", inputType: ".greeter.v1.SayGoodbyeRequest", outputType: ".greeter.v1.SayGoodbyeResponse" },
      ],
    },
  ],
});
const GreeterService = createFileRegistry(file, () => undefined).getService("greeter.v1.GreeterService");

const [baselineUrl, validationUrl] = process.argv.slice(2);
if (!baselineUrl || !validationUrl) {
  console.error("usage: node client.mjs BASELINE_URL VALIDATION_URL");
  process.exit(2);
}

const transports = {
  "connect binary (default)": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" }),
  "connect json": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  "connect binary over h2c": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2" }),
  grpc: (baseUrl) => createGrpcTransport({ baseUrl }),
};

let failures = 0;
for (const [name, transport] of Object.entries(transports)) {
  try {
    const baseline = createClient(GreeterService, transport(baselineUrl));
    assert.equal((await baseline.sayHello({ name: "Ada" })).message, "Hello, Ada!");
    assert.equal((await baseline.sayGoodbye({ name: "Ada" })).message, "Goodbye, Ada!");
    // A large request, sent while the server may already be answering: no EPIPE, no reset.
    const long = "a".repeat(200_000);
    assert.equal((await baseline.sayHello({ name: long })).message, `Hello, ${long}!`);
    const validation = createClient(GreeterService, transport(validationUrl));
    await assert.rejects(validation.sayHello({ name: "" }), (error) => {
      assert.ok(error instanceof ConnectError, `${error}`);
      assert.equal(error.code, Code.InvalidArgument, `${error}`);
      return true;
    });
    console.log(`ok ${name}: SayHello, SayGoodbye, a 200 kB name, invalid_argument on validation`);
  } catch (error) {
    failures += 1;
    console.log(`FAILED ${name}: ${error?.stack ?? error}`);
  }
}
process.exit(failures === 0 ? 0 : 1);
