// The offload pipeline's parts that need no server: the pointer and ACK
// format (every bad field named), S3 request building (encoding, canonical
// query order, XML), payload streams, option parsing and AMQP URIs.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "amqp/connection.h"
#include "kube/tls_material.h"
#include "offload/coordinator.h"
#include "offload/options.h"
#include "offload/payload.h"
#include "offload/pointer.h"
#include "offload/s3_request.h"
#include "offload/topology.h"

namespace warren::offload {
namespace {

using json = nlohmann::json;

json validPointer() {
  return {{"version", 1},
          {"message_id", "producer-1-abc"},
          {"producer", "producer-1"},
          {"storage", {{"bucket", "offload"}, {"key", "demo/producer-1-abc"}}},
          {"size", 1048576},
          {"sha256", std::string(64, 'a')},
          {"content_type", "application/json"},
          {"compression", "gzip"},
          {"recipients", {"beta", "alpha"}},
          {"recipients_total", 2},
          {"created_at", "2026-12-02T10:00:00.123456Z"},
          {"expires_at", "2026-12-03T10:00:00Z"}};
}

TEST(OffloadPointer, ParsesAndRoundTrips) {
  auto pointer = parsePointer(validPointer().dump());
  ASSERT_TRUE(pointer) << pointer.error().message;
  EXPECT_EQ(pointer->recipients, (std::vector<std::string>{"alpha", "beta"}));  // sorted
  EXPECT_EQ(pointer->recipientsTotal(), 2u);
  EXPECT_EQ(pointer->size, 1048576u);
  EXPECT_EQ(formatTime(pointer->created_at), "2026-12-02T10:00:00.123456Z");
  ASSERT_TRUE(pointer->expires_at);
  auto again = parsePointer(toJson(*pointer));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(toJson(*again), toJson(*pointer));
}

TEST(OffloadPointer, InlinePayloadsCarryTheirBytes) {
  json document = validPointer();
  document.erase("storage");
  document["inline"] = kube::base64Encode("hello");
  document["size"] = 5;
  auto pointer = parsePointer(document.dump());
  ASSERT_TRUE(pointer) << pointer.error().message;
  EXPECT_TRUE(pointer->is_inline);
  EXPECT_EQ(pointer->inline_data, "hello");
  document["size"] = 6;
  auto wrong = parsePointer(document.dump());
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("size"), std::string::npos);
}

TEST(OffloadPointer, EveryBadFieldIsNamed) {
  struct Case {
    std::function<void(json&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](json& d) { d.erase("version"); }, "version"},
      {[](json& d) { d["version"] = 2; }, "version"},
      {[](json& d) { d["version"] = "1"; }, "version"},
      {[](json& d) { d.erase("message_id"); }, "message_id"},
      {[](json& d) { d["message_id"] = "has space"; }, "message_id"},
      {[](json& d) { d["message_id"] = 7; }, "message_id"},
      {[](json& d) { d.erase("producer"); }, "producer"},
      {[](json& d) { d["sha256"] = "ABC"; }, "sha256"},
      {[](json& d) { d["sha256"] = std::string(64, 'A'); }, "sha256"},
      {[](json& d) { d["size"] = -1; }, "size"},
      {[](json& d) { d["size"] = "10"; }, "size"},
      {[](json& d) { d.erase("size"); }, "size"},
      {[](json& d) { d["compression"] = "zstd"; }, "compression"},
      {[](json& d) { d["recipients"] = json::array(); }, "recipients"},
      {[](json& d) { d["recipients"] = {"Alpha"}; }, "recipients"},
      {[](json& d) { d["recipients"] = {"alpha", "alpha"}; }, "recipients"},
      {[](json& d) { d["recipients"] = "alpha"; }, "recipients"},
      {[](json& d) { d["recipients_total"] = 3; }, "recipients_total"},
      {[](json& d) { d.erase("storage"); }, "storage"},
      {[](json& d) { d["inline"] = "aGk="; }, "storage"},
      {[](json& d) { d["storage"] = {{"bucket", "b"}}; }, "storage.key"},
      {[](json& d) { d["storage"] = {{"bucket", ""}, {"key", "k"}}; }, "storage"},
      {[](json& d) { d["storage"] = "b/k"; }, "storage"},
      {[](json& d) { d["created_at"] = "yesterday"; }, "created_at"},
      {[](json& d) { d.erase("created_at"); }, "created_at"},
      {[](json& d) { d["expires_at"] = "2026-13-01T00:00:00Z"; }, "expires_at"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    json document = validPointer();
    cases[i].change(document);
    auto parsed = parsePointer(document.dump());
    ASSERT_FALSE(parsed) << "case " << i << " was accepted: " << document.dump();
    EXPECT_EQ(parsed.error().reason, "InvalidMessage");
    EXPECT_EQ(parsed.error().message.rfind(cases[i].field, 0), 0u)
        << "case " << i << ": '" << parsed.error().message << "' should name " << cases[i].field;
  }
  for (const char* text : {"", "null", "[]", "{", "\"pointer\""}) {
    auto parsed = parsePointer(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().reason, "InvalidMessage");
  }
}

TEST(OffloadAck, ParsesAndNamesBadFields) {
  Ack ack;
  ack.message_id = "m-1";
  ack.recipient = "alpha";
  ack.ok = false;
  ack.detail = "sha256 mismatch";
  ack.acked_at = std::chrono::system_clock::now();
  auto parsed = parseAck(toJson(ack));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_FALSE(parsed->ok);
  EXPECT_EQ(parsed->detail, "sha256 mismatch");
  json document = json::parse(toJson(ack));
  document.erase("ok");
  EXPECT_EQ(parseAck(document.dump()).error().message.rfind("ok", 0), 0u);
  document = json::parse(toJson(ack));
  document["recipient"] = "Not A Name";
  EXPECT_EQ(parseAck(document.dump()).error().message.rfind("recipient", 0), 0u);
  document = json::parse(toJson(ack));
  document["acked_at"] = 5;
  EXPECT_EQ(parseAck(document.dump()).error().message.rfind("acked_at", 0), 0u);
}

TEST(OffloadTime, FormatsAndParsesRfc3339) {
  const auto time = parseTime("2026-12-02T10:00:00.5Z");
  ASSERT_TRUE(time);
  EXPECT_EQ(formatTime(*time), "2026-12-02T10:00:00.500000Z");
  EXPECT_FALSE(parseTime("2026-12-02T10:00:00"));       // no zone
  EXPECT_FALSE(parseTime("2026-12-02T10:00:00+01:00"));  // UTC only
  EXPECT_FALSE(parseTime("2026-12-02T10:00:00.Z"));
  EXPECT_TRUE(parseTime("2026-12-02T10:00:00.000Z"));    // S3's LastModified
}

TEST(S3Request, EncodesKeysAndSortsTheQuery) {
  EXPECT_EQ(s3::percentEncode("a b+c=d/é", true), "a%20b%2Bc%3Dd/%C3%A9");
  EXPECT_EQ(s3::percentEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(s3::objectUrl("http://127.0.0.1:7070/", "bucket", "dir/a b"), "http://127.0.0.1:7070/bucket/dir/a%20b");
  // libcurl 7.88 signs the query as written: it must already be sorted, with "=".
  EXPECT_EQ(s3::objectUrl("http://s3", "b", "k", {{"uploadId", "x/y"}, {"partNumber", "2"}}),
            "http://s3/b/k?partNumber=2&uploadId=x%2Fy");
  EXPECT_EQ(s3::objectUrl("http://s3", "b", "k", {{"uploads", ""}}), "http://s3/b/k?uploads=");
  EXPECT_EQ(s3::objectUrl("http://s3", "b", "", {{"prefix", "p/"}, {"list-type", "2"}, {"continuation-token", "t"}}),
            "http://s3/b?continuation-token=t&list-type=2&prefix=p%2F");
}

TEST(S3Request, WritesAndReadsTheXml) {
  EXPECT_EQ(s3::completeMultipartXml({{1, "\"e1\""}, {2, "\"e2\""}}),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part><PartNumber>1</PartNumber>"
            "<ETag>&quot;e1&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part>"
            "</CompleteMultipartUpload>");
  auto id = s3::parseUploadId(
      "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>abc-123</UploadId>"
      "</InitiateMultipartUploadResult>");
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "abc-123");
  EXPECT_FALSE(s3::parseUploadId("<Other/>"));
  EXPECT_FALSE(s3::parseUploadId("not xml <"));
  auto page = s3::parseListPage(
      "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>next</NextContinuationToken>"
      "<Contents><Key>p/a</Key><Size>10</Size><LastModified>2026-12-02T10:00:00.000Z</LastModified></Contents>"
      "<Contents><Key>p/b</Key><Size>20</Size></Contents></ListBucketResult>");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[1].size, 20u);
  EXPECT_EQ(page->next_continuation_token.value_or(""), "next");
  auto pending = s3::parsePendingUploads(
      "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><NextKeyMarker>p/b</NextKeyMarker>"
      "<NextUploadIdMarker>u2</NextUploadIdMarker><Upload><Key>p/a</Key><UploadId>u1</UploadId>"
      "<Initiated>2026-12-02T10:00:00.000Z</Initiated></Upload></ListMultipartUploadsResult>");
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->uploads.size(), 1u);
  EXPECT_EQ(pending->uploads[0].upload_id, "u1");
  ASSERT_TRUE(pending->next_markers);
  EXPECT_EQ(pending->next_markers->second, "u2");
  EXPECT_FALSE(s3::parsePendingUploads("<ListBucketResult/>"));
  EXPECT_EQ(s3::parseErrorDocument("<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>").value_or(""),
            "NoSuchKey: gone");
  EXPECT_FALSE(s3::parseErrorDocument("<CompleteMultipartUploadResult/>"));
}

std::string readAll(const PayloadReader& reader, size_t piece = 1000) {
  std::string out;
  std::string buffer(piece, '\0');
  for (;;) {
    auto got = reader(buffer.data(), buffer.size());
    EXPECT_TRUE(got);
    if (!got || *got == 0) return out;
    out.append(buffer.data(), *got);
  }
}

TEST(OffloadPayload, GeneratesExactSizesAndGzipRoundTrips) {
  for (uint64_t size : {64ULL, 100ULL, 65536ULL, 1000003ULL}) {
    const std::string payload = readAll(generatedReader(size, "p", 3, 42), 4096);
    ASSERT_EQ(payload.size(), size);
    EXPECT_TRUE(json::parse(payload, nullptr, false).is_object()) << "a JSON document of " << size << " bytes";
    const std::string zipped = readAll(gzipReader(generatedReader(size, "p", 3, 42)), 777);
    if (size >= 65536) {
      EXPECT_LT(zipped.size(), size) << "26 letters need under 5 bits each";
    }
    std::string unzipped;
    GunzipWriter gunzip([&](std::string_view piece) {
      unzipped.append(piece);
      return okStatus();
    });
    for (size_t at = 0; at < zipped.size(); at += 1000) ASSERT_TRUE(gunzip.write(std::string_view(zipped).substr(at, 1000)));
    EXPECT_TRUE(gunzip.finish());
    EXPECT_EQ(unzipped, payload);
  }
  GunzipWriter truncated([](std::string_view) { return okStatus(); });
  const std::string zipped = readAll(gzipReader(generatedReader(5000, "p", 1, 1)));
  ASSERT_TRUE(truncated.write(std::string_view(zipped).substr(0, zipped.size() / 2)));
  EXPECT_FALSE(truncated.finish());
  GunzipWriter garbage([](std::string_view) { return okStatus(); });
  EXPECT_FALSE(garbage.write("not gzip at all"));
}

Result<Flags> parseFlags(std::vector<std::string> args, const std::vector<std::string>& known,
                         const std::vector<std::string>& switches = {}) {
  args.insert(args.begin(), "program");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return Flags::parse(static_cast<int>(argv.size()), argv.data(), known, switches);
}

TEST(OffloadFlags, ParsesValuesSizesAndDurations) {
  auto flags = parseFlags({"--size=8MiB", "--count", "5", "--ttl", "24h", "--gzip", "--small", "1MB"},
                          {"size", "count", "ttl", "small"}, {"gzip"});
  ASSERT_TRUE(flags) << flags.error().message;
  EXPECT_EQ(*flags->bytes("size", 0), 8ULL << 20);
  EXPECT_EQ(*flags->bytes("small", 0), 1000000ULL);
  EXPECT_EQ(*flags->integer("count", 0), 5);
  EXPECT_EQ(*flags->duration("ttl", {}), std::chrono::hours(24));
  EXPECT_TRUE(flags->isSet("gzip"));
  EXPECT_EQ(*flags->bytes("absent", 7), 7u);
  EXPECT_EQ(parseFlags({"--unknown", "1"}, {"size"}).error().message, "unknown flag --unknown");
  EXPECT_EQ(parseFlags({"--size"}, {"size"}).error().message, "--size: needs a value");
  auto bad = parseFlags({"--size", "8XB", "--ttl", "soon"}, {"size", "ttl"});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->bytes("size", 0).error().message.rfind("--size:", 0), 0u);
  EXPECT_EQ(bad->duration("ttl", {}).error().message.rfind("--ttl:", 0), 0u);
}

TEST(OffloadFlags, ConnectionsNameWhatIsMissing) {
  auto flags = parseFlags({"--pipeline", "demo", "--amqp-uri", "amqp://u:p@h1,h2:5673/v"}, connectionFlags());
  ASSERT_TRUE(flags);
  ASSERT_TRUE(readConnections(*flags, /*need_s3=*/false));
  auto missing = readConnections(*flags);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message.rfind("--s3-endpoint", 0), 0u) << missing.error().message;
  auto bad_pipeline = parseFlags({"--pipeline", "Demo!", "--amqp-uri", "amqp://h"}, connectionFlags());
  ASSERT_TRUE(bad_pipeline);
  EXPECT_EQ(readConnections(*bad_pipeline, false).error().message.rfind("--pipeline", 0), 0u);
}

TEST(AmqpUri, ParsesHostsCredentialsAndVhost) {
  auto endpoints = amqp::parseUri("amqp://user:p%40ss@node-0:5672,node-1,[::1]:5673/%2Fprod");
  ASSERT_TRUE(endpoints) << endpoints.error().message;
  ASSERT_EQ(endpoints->size(), 3u);
  EXPECT_EQ((*endpoints)[0].host, "node-0");
  EXPECT_EQ((*endpoints)[1].port, 5672);
  EXPECT_EQ((*endpoints)[2].host, "::1");
  EXPECT_EQ((*endpoints)[2].port, 5673);
  EXPECT_EQ((*endpoints)[0].password, "p@ss");
  EXPECT_EQ((*endpoints)[0].vhost, "/prod");
  auto defaults = amqp::parseUri("amqp://127.0.0.1:5699/");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->front().host, "127.0.0.1");
  EXPECT_EQ(defaults->front().port, 5699);
  EXPECT_EQ(defaults->front().vhost, "/");
  EXPECT_EQ(defaults->front().username, "guest");
  EXPECT_FALSE(amqp::parseUri("http://host"));
  EXPECT_FALSE(amqp::parseUri("amqp://host:99999"));
  EXPECT_FALSE(amqp::parseUri("amqp://a,,b"));
  EXPECT_FALSE(amqp::parseUri("amqp://u:%zz@h"));
}

TEST(OffloadTopology, NamesFollowThePipeline) {
  const Topology topology("orders");
  EXPECT_EQ(topology.pointerExchange(), "orders.pointers");
  EXPECT_EQ(topology.recipientQueue("billing"), "orders.recipient.billing");
  EXPECT_EQ(topology.ledgerQueue(), "orders.ledger");
  const auto queue = topology.queue(topology.ackQueue());
  EXPECT_TRUE(queue.quorum);
  EXPECT_EQ(queue.dead_letter_exchange, "orders.dead-letter");
  EXPECT_EQ(queue.delivery_limit, Topology::kDeliveryLimit);
  EXPECT_TRUE(validPipelineName("orders.eu-1"));
  EXPECT_FALSE(validPipelineName("Orders"));
  EXPECT_FALSE(validPipelineName("-orders"));
  EXPECT_FALSE(validPipelineName(""));
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every series the chart's dashboard and alert rules query is one the
// coordinator exports (a renamed metric would leave a panel blank).
TEST(OffloadObservability, TheDashboardAndAlertsQueryOnlyExportedMetrics) {
  metrics::Registry registry;
  CoordinatorMetrics coordinator(registry);
  coordinator.dependency_up.with({"s3"}).set(1);
  coordinator.pointers.with({"new"}).inc();
  coordinator.acks.with({"new"}).inc();
  std::set<std::string> exported;
  std::istringstream rendered(registry.render());
  for (std::string line; std::getline(rendered, line);) {
    if (line.rfind("# TYPE ", 0) == 0) exported.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  const std::filesystem::path chart = std::filesystem::path(WARREN_TESTDATA) / "../../charts/warren-operator";
  const auto dashboard = json::parse(readFile(chart / "dashboards/offload-pipeline.json"), nullptr, false);
  ASSERT_TRUE(dashboard.is_object()) << "the dashboard is not JSON";
  std::string queries;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) queries += target["expr"].get<std::string>() + "\n";
  }
  queries += readFile(chart / "alerts/offload-rules.yaml");
  const std::regex metric("warren_offload_[a-z_]+");
  int checked = 0;
  for (auto it = std::sregex_iterator(queries.begin(), queries.end(), metric); it != std::sregex_iterator(); ++it) {
    std::string name = it->str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() > std::strlen(suffix) && name.compare(name.size() - std::strlen(suffix), std::string::npos, suffix) == 0 &&
          exported.count(name.substr(0, name.size() - std::strlen(suffix)))) {
        name = name.substr(0, name.size() - std::strlen(suffix));
      }
    }
    EXPECT_TRUE(exported.count(name)) << name << " is queried but not exported";
    ++checked;
  }
  EXPECT_GT(checked, 15);
}

}  // namespace
}  // namespace warren::offload
