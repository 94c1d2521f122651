#!/usr/bin/env node
// Starts @vercel/cosmosdb-server (an in-memory Cosmos DB NoSQL API over HTTPS)
// with two fixes, made by wrapping its modules before the server loads them
// (node_modules stays untouched):
//
// 1. The server stores partition key range ids as numbers ("id": 0); the
//    official Rust SDK (azure_data_cosmos 1.x) expects strings and fails with
//    ClientTopologyResolutionFailed. `create` on the partition key range
//    collection now stores String(id).
// 2. Reading a document that does not exist crashes the read handler (500,
//    "Cannot read properties of undefined"); Cosmos DB answers 404 NotFound,
//    and so does this server now.
// 3. Transactional batch operations carry no partition key of their own (the
//    batch's is in the x-ms-documentdb-partitionkey header, as Cosmos DB
//    expects); the server's replace/upsert/delete/read operations require one
//    and fail with 500. They now fall back to the batch's header.
//
// Usage: node cosmos-server.js <port>
"use strict";

const port = Number.parseInt(process.argv[2] ?? "8081", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`usage: node cosmos-server.js <port>  (got '${process.argv[2]}')`);
  process.exit(2);
}

const PartitionKeyRanges = require("@vercel/cosmosdb-server/lib/account/partition-key-ranges.js").default;
const originalCreate = PartitionKeyRanges.prototype.create;
PartitionKeyRanges.prototype.create = function createWithStringId(data, ...rest) {
  const fixed = data && data.id !== undefined ? { ...data, id: String(data.id) } : data;
  return originalCreate.call(this, fixed, ...rest);
};

// Must be patched before the package's router loads: it keeps the handler
// functions it finds at load time.
const readDocument = require("@vercel/cosmosdb-server/lib/handler/read-document.js");
const partitionHeader = require("@vercel/cosmosdb-server/lib/utils/get-partition-from-header.js");
const { AsyncLocalStorage } = require("node:async_hooks");
const batchPartitionKey = new AsyncLocalStorage();
const originalParse = partitionHeader.parsePartitionKey;
partitionHeader.parsePartitionKey = function parseOrBatchPartitionKey(partitionKey, defaultValue) {
  return originalParse(partitionKey === undefined ? batchPartitionKey.getStore() : partitionKey, defaultValue);
};
const batchDocuments = require("@vercel/cosmosdb-server/lib/handler/batch-documents.js");
const originalBatch = batchDocuments.default;
batchDocuments.default = function batchWithHeaderPartitionKey(account, req, res, params) {
  return batchPartitionKey.run(partitionHeader.default(req), () => originalBatch(account, req, res, params));
};

const originalRead = readDocument.default;
readDocument.default = function readDocumentOr404(account, req, res, params) {
  const collection = account.database(params.dbId).collection(params.collId);
  const header = partitionHeader.default(req);
  if (collection.read() && header !== undefined) {
    const partitionKey = partitionHeader.parsePartitionKey(header, params.docId);
    if (!collection.document(params.docId, partitionKey).read()) {
      res.statusCode = 404;
      return { code: "NotFound", message: "Entity with the specified id does not exist in the system." };
    }
  }
  return originalRead(account, req, res, params);
};

const { createHttpsServer } = require("@vercel/cosmosdb-server");

const server = createHttpsServer().listen(port, "127.0.0.1", () => {
  console.log(`cosmosdb-server ready on https://localhost:${server.address().port}/`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
