// app.js — the browser test page's script: calls the example shop through portico from a
// page served on another origin (so every call is a CORS request), with real client
// libraries: @connectrpc/connect-web (Connect with JSON and binary, GET for NO_SIDE_EFFECTS
// methods, gRPC-Web binary) and grpc-web (Google's client, gRPC-Web text mode). The schema
// comes from the descriptor set at run time (@bufbuild/protobuf's registry), so no code
// generation is needed. Each result is rendered as one <li data-k="KEY"> line; the test
// reads the DOM text once #done appears. Bundled by esbuild into one file at test time.
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { GrpcWebClientBase, MethodDescriptor, MethodType } from "grpc-web";

const params = new URLSearchParams(location.search);
const gateway = params.get("gw");
const denied = params.get("denied"); // a gateway whose CORS policy does not allow this page

function render(key, text) {
  const li = document.createElement("li");
  li.dataset.k = key;
  li.textContent = `${key}: ${text}`;
  document.getElementById("results").appendChild(li);
}

function errText(e) {
  const ce = ConnectError.from(e);
  return `error ${Code[ce.code]} ${ce.rawMessage}`;
}

function money(micros, currency) {
  return `${(Number(micros) / 1e6).toFixed(2)} ${currency}`;
}

async function step(key, fn) {
  try {
    render(key, await fn());
  } catch (e) {
    render(key, errText(e));
  }
}

async function main() {
  const set = fromBinary(FileDescriptorSetSchema, new Uint8Array(await (await fetch("shop.pb")).arrayBuffer()));
  const registry = createFileRegistry(set);
  const PriceService = registry.getService("shop.v1.PriceService");
  const StockService = registry.getService("shop.v1.StockService");
  const methodsSeen = [];
  const recordingFetch = (input, init) => {
    methodsSeen.push(init && init.method ? init.method : "GET");
    return fetch(input, init);
  };

  const connectJson = createConnectTransport({ baseUrl: gateway, fetch: recordingFetch });
  const connectGet = createConnectTransport({ baseUrl: gateway, useHttpGet: true, fetch: recordingFetch });
  const connectProto = createConnectTransport({ baseUrl: gateway, useBinaryFormat: true });
  const grpcWeb = createGrpcWebTransport({ baseUrl: gateway, useBinaryFormat: true });

  // Connect, JSON codec, POST; custom metadata both ways (the echo needs CORS exposure)
  await step("connect-json", async () => {
    let echo = "-", servedBy = "-";
    const p = await createClient(PriceService, connectJson).getPrice(
      { sku: "ABC-123", quantity: 2 },
      {
        headers: { "x-request-id": "page-1" },
        onHeader: (h) => (echo = h.get("x-request-id") ?? "-"),
        onTrailer: (t) => (servedBy = t.get("x-served-by") ?? "-"),
      },
    );
    return `${p.displayName} x${p.quantity} = ${money(p.amountMicros, p.currency)} echo=${echo} trailer=${servedBy}`;
  });

  // Connect unary GET (the method is NO_SIDE_EFFECTS in the descriptor set the page loads)
  await step("connect-get", async () => {
    methodsSeen.length = 0;
    const s = await createClient(StockService, connectGet).getStock({ sku: "XYZ-999" });
    const status = registry.getEnum("shop.v1.StockStatus").values.find((v) => v.number === s.status).name;
    return `${s.sku} available=${s.available} ${status} via ${methodsSeen.join(",")}`;
  });

  // Connect, binary codec
  await step("connect-proto", async () => {
    const w = await createClient(StockService, connectProto).listWarehouses({ region: "eu-west" });
    return `warehouses=${w.warehouses.map((x) => x.id).join(",")}`;
  });

  // Connect server streaming (envelopes, EndStreamResponse)
  await step("connect-stream", async () => {
    const seq = [];
    for await (const u of createClient(PriceService, connectJson).watchPrice({ sku: "ABC-123", updates: 3, intervalMs: 20 }))
      seq.push(u.sequence);
    return `sequences=${seq.join(",")}`;
  });

  // Connect errors: status, message and details from the backend
  await step("connect-error", async () => {
    try {
      await createClient(PriceService, connectJson).getPrice({ sku: "NOPE-1" });
      return "no error";
    } catch (e) {
      const ce = ConnectError.from(e);
      const types = ce.details.map((d) => d.desc?.typeName ?? d.type).join(",");
      return `${Code[ce.code]} ${ce.rawMessage} details=${types}`;
    }
  });

  // Connect deadline: Connect-Timeout-Ms shorter than the backend's delay
  await step("connect-deadline", async () => {
    try {
      await createClient(PriceService, connectJson).getPrice(
        { sku: "ABC-123" },
        { timeoutMs: 150, headers: { "x-test-delay-ms": "2000" } },
      );
      return "no error";
    } catch (e) {
      return `${Code[ConnectError.from(e).code]}`;
    }
  });

  // gRPC-Web (binary) through connect-web
  await step("grpcweb", async () => {
    let echo = "-";
    const p = await createClient(PriceService, grpcWeb).getPrice(
      { sku: "ABC-123", currency: "EUR" },
      { headers: { "x-request-id": "page-2" }, onHeader: (h) => (echo = h.get("x-request-id") ?? "-") },
    );
    return `${p.displayName} = ${money(p.amountMicros, p.currency)} echo=${echo}`;
  });

  await step("grpcweb-stream", async () => {
    const seq = [];
    for await (const u of createClient(PriceService, grpcWeb).watchPrice({ sku: "XYZ-999", updates: 4, intervalMs: 20 }))
      seq.push(u.sequence);
    return `sequences=${seq.join(",")}`;
  });

  // a trailers-only error: readable only because grpc-status/grpc-message are exposed
  await step("grpcweb-error", async () => {
    try {
      await createClient(PriceService, grpcWeb).getPrice({ sku: "NOPE-2" });
      return "no error";
    } catch (e) {
      return errText(e);
    }
  });

  // an error after a message of a stream: the status travels in the trailers frame
  await step("grpcweb-stream-error", async () => {
    const seq = [];
    try {
      for await (const u of createClient(PriceService, grpcWeb).watchPrice(
        { sku: "ABC-123", updates: 5, intervalMs: 10 },
        { headers: { "x-test-abort-after": "2", "x-test-status-message": "cut short" } },
      ))
        seq.push(u.sequence);
      return `no error after ${seq.join(",")}`;
    } catch (e) {
      return `after ${seq.join(",")} ${errText(e)}`;
    }
  });

  // Google's grpc-web client in text mode (application/grpc-web-text, base64 both ways)
  const GetPriceRequest = registry.getMessage("shop.v1.GetPriceRequest");
  const Price = registry.getMessage("shop.v1.Price");
  const WatchPriceRequest = registry.getMessage("shop.v1.WatchPriceRequest");
  const PriceUpdate = registry.getMessage("shop.v1.PriceUpdate");
  const textClient = new GrpcWebClientBase({ format: "text" });
  const getPrice = new MethodDescriptor(
    "/shop.v1.PriceService/GetPrice",
    MethodType.UNARY,
    Object,
    Object,
    (req) => toBinary(GetPriceRequest, req),
    (bytes) => fromBinary(Price, bytes),
  );
  const watchPrice = new MethodDescriptor(
    "/shop.v1.PriceService/WatchPrice",
    MethodType.SERVER_STREAMING,
    Object,
    Object,
    (req) => toBinary(WatchPriceRequest, req),
    (bytes) => fromBinary(PriceUpdate, bytes),
  );
  await step("grpcwebtext", async () => {
    const p = await textClient.thenableCall(
      gateway + "/shop.v1.PriceService/GetPrice",
      create(GetPriceRequest, { sku: "GIFT-50", currency: "GBP" }),
      { "x-request-id": "page-3" },
      getPrice,
    );
    return `${p.displayName} = ${money(p.amountMicros, p.currency)}`;
  });
  await step("grpcwebtext-stream", async () => {
    return await new Promise((resolve) => {
      const seq = [];
      const stream = textClient.serverStreaming(
        gateway + "/shop.v1.PriceService/WatchPrice",
        create(WatchPriceRequest, { sku: "ABC-123", updates: 3, intervalMs: 20 }),
        {},
        watchPrice,
      );
      stream.on("data", (u) => seq.push(u.sequence));
      stream.on("error", (e) => resolve(`after ${seq.join(",")} error ${e.code} ${e.message}`));
      stream.on("end", () => resolve(`sequences=${seq.join(",")}`));
    });
  });
  await step("grpcwebtext-error", async () => {
    try {
      await textClient.thenableCall(
        gateway + "/shop.v1.PriceService/GetPrice",
        create(GetPriceRequest, { sku: "ABC-123" }),
        { "x-test-status": "PERMISSION_DENIED", "x-test-status-message": "no entry" },
        getPrice,
      );
      return "no error";
    } catch (e) {
      return `code=${e.code} ${e.message}`;
    }
  });

  // a gateway that does not allow this origin: the browser withholds the answer
  if (denied) {
    await step("cors-denied", async () => {
      const t = createConnectTransport({ baseUrl: denied });
      await createClient(PriceService, t).getPrice({ sku: "ABC-123" });
      return "answer readable (CORS not enforced)";
    });
  }

  const done = document.createElement("div");
  done.id = "done";
  done.textContent = "done";
  document.body.appendChild(done);
}

main().catch((e) => {
  render("fatal", String(e && e.stack ? e.stack : e));
  const done = document.createElement("div");
  done.id = "done";
  document.body.appendChild(done);
});
