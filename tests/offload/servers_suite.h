// ServersSuite: a test fixture whose whole suite shares one set of offload
// servers (started once, in SetUpTestSuite) and one bucket, and gives each
// test a lowercase name to derive its schema, pipeline and files from.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>

#include <gtest/gtest.h>

#include "offload/s3_client.h"
#include "offload_servers.h"

namespace warren::offload::testing {

template <bool kWithBroker, const char* kBucketName>
class ServersSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    servers_ = new OffloadServers();
    setup_ = servers_->startAll(kWithBroker);
    if (!setup_) return;
    auto s3 = S3Client::create(servers_->s3Config());
    setup_ = s3 ? (*s3)->createBucket(kBucketName) : Status(s3.error());
  }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }

  // The running test's name, lowercase (schema and queue names want it so).
  static std::string lowercaseTestName() {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    return name;
  }

  static constexpr const char* kBucket = kBucketName;
  inline static OffloadServers* servers_ = nullptr;
  inline static Status setup_ = okStatus();
};

}  // namespace warren::offload::testing
