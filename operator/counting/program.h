// What the counting service and client share as programs: loading the
// config named on the command line, the /healthz endpoint reporting the
// broker connection state, and the signal-driven main loop.
#pragma once

#include <functional>
#include <string>

#include "counting/mqtt_link.h"

namespace warren::counting {

// Runs `tick` every `period` until SIGTERM/SIGINT, serving /healthz for `link`.
// Returns the process exit code.
int runProgram(const std::string& name, int argc, char** argv,
               const std::function<void(const CountingConfig&, MqttLink&)>& setup,
               const std::function<void(const CountingConfig&, MqttLink&)>& tick);

}  // namespace warren::counting
