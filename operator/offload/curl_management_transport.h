// The management API transport used in production: libcurl, basic auth,
// bounded by the access's timeout. Kept apart from the calls themselves
// (broker_management.h) so code that only builds calls does not link libcurl.
#pragma once

#include <memory>

#include "offload/broker_management.h"

namespace warren::offload {

// One connection (reused across sends) to `access.url`; an Error with reason
// "BrokerUnreachable" when nothing comes back.
std::unique_ptr<ManagementTransport> curlManagementTransport(ManagementAccess access);

}  // namespace warren::offload
