// What the counting service and client share as programs: loading the
// config named on the command line, the /healthz endpoint reporting the
// broker connection state, and the signal-driven main loop.
#pragma once

#include <functional>
#include <string>

#include "counting/broker_link.h"

namespace warren::counting {

// Loads the config, makes the link for its protocol, calls `setup` once, then
// `tick` every interval until SIGTERM/SIGINT, serving /healthz for the link.
// Returns the process exit code.
int runProgram(const std::string& name, int argc, char** argv,
               const std::function<void(const CountingConfig&, BrokerLink&)>& setup,
               const std::function<void(const CountingConfig&, BrokerLink&)>& tick);

}  // namespace warren::counting
