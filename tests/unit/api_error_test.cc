#include "kube/api_error.h"

#include <gtest/gtest.h>

namespace warren::kube {
namespace {

TEST(ApiErrorTest, DecodesStatusBody) {
  const HttpResponse response{
      404, "application/json",
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"configmaps \"x\" not found","reason":"NotFound","code":404})"};
  const Error error = decodeApiError(response);
  EXPECT_EQ(error.http_status, 404);
  EXPECT_EQ(error.reason, "NotFound");
  EXPECT_EQ(error.message, "configmaps \"x\" not found");
  EXPECT_TRUE(error.isNotFound());
  EXPECT_FALSE(error.isConflict());
  EXPECT_EQ(error.describe(), "404 NotFound: configmaps \"x\" not found");
}

TEST(ApiErrorTest, HelpersPerReason) {
  auto make = [](int code, const char* reason) {
    return decodeApiError({code, "", std::string(R"({"kind":"Status","reason":")") + reason +
                                         R"(","code":)" + std::to_string(code) + "}"});
  };
  EXPECT_TRUE(make(409, "AlreadyExists").isAlreadyExists());
  EXPECT_FALSE(make(409, "AlreadyExists").isConflict());
  EXPECT_TRUE(make(409, "Conflict").isConflict());
  EXPECT_TRUE(make(410, "Expired").isGone());
  EXPECT_TRUE(make(422, "Invalid").isInvalid());
  EXPECT_TRUE(make(403, "Forbidden").isForbidden());
  EXPECT_TRUE(make(401, "Unauthorized").isUnauthorized());
  EXPECT_TRUE(make(429, "TooManyRequests").isTooManyRequests());
  EXPECT_TRUE(make(503, "ServiceUnavailable").isTransient());
  EXPECT_FALSE(make(422, "Invalid").isTransient());
}

TEST(ApiErrorTest, NonStatusBodyKeepsAnExcerpt) {
  const Error error = decodeApiError({502, "text/html", "<html>bad gateway</html>\n"});
  EXPECT_EQ(error.http_status, 502);
  EXPECT_EQ(error.reason, "Unknown");
  EXPECT_EQ(error.message, "<html>bad gateway</html>");
  EXPECT_TRUE(error.isTransient());
  const Error forbidden = decodeApiError({403, "", ""});
  EXPECT_EQ(forbidden.reason, "Forbidden");
}

TEST(ApiErrorTest, StatusObjectFromWatchError) {
  const auto status = nlohmann::json::parse(
      R"json({"kind":"Status","status":"Failure","message":"too old resource version: 1 (500)","reason":"Expired","code":410})json");
  const Error error = decodeStatusObject(status, 500);
  EXPECT_EQ(error.http_status, 410);
  EXPECT_TRUE(error.isGone());
  EXPECT_EQ(decodeStatusObject(nlohmann::json::object(), 500).reason, "InternalError");
}

// A failed JSON-patch `test` comes back with a generic message; what failed is in the causes.
TEST(ApiErrorTest, GenericMessageKeepsItsCauses) {
  const Error error = decodeApiError(
      {422, "",
       R"json({"kind":"Status","status":"Failure","message":"the server rejected our request due to an error in our request","reason":"Invalid","details":{"causes":[{"reason":"UnexpectedServerResponse","message":"testing value /metadata/finalizers failed: test failed"}]},"code":422})json"});
  EXPECT_EQ(error.message,
            "the server rejected our request due to an error in our request: testing value /metadata/finalizers "
            "failed: test failed");
  const Error field = decodeApiError(
      {422, "",
       R"json({"kind":"Status","message":"Pod \"p\" is invalid: spec.x: Required value","reason":"Invalid","details":{"causes":[{"message":"Required value","field":"spec.x"}]},"code":422})json"});
  EXPECT_EQ(field.message, "Pod \"p\" is invalid: spec.x: Required value");
}

TEST(ApiErrorTest, LocalErrorsAreTransient) {
  const Error error = Error::local("TransportError", "connection refused");
  EXPECT_EQ(error.http_status, 0);
  EXPECT_TRUE(error.isTransient());
  EXPECT_EQ(error.describe(), "TransportError: connection refused");
}

}  // namespace
}  // namespace warren::kube
