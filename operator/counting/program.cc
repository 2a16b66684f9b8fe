#include "counting/program.h"

#include <unistd.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/shutdown.h"
#include "common/log.h"
#include "counting/link_factory.h"
#include "runtime/http_server.h"

namespace warren::counting {

int runProgram(const std::string& name, int argc, char** argv,
               const std::function<void(const CountingConfig&, BrokerLink&)>& setup,
               const std::function<void(const CountingConfig&, BrokerLink&)>& tick) {
  app::ShutdownSignal::instance().install();
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CONFIG.json\n", name.c_str());
    return 2;
  }
  auto config = loadCountingConfig(argv[1]);
  if (!config) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), config.error().message.c_str());
    return 2;
  }
  const std::unique_ptr<BrokerLink> owned_link = makeBrokerLink(*config, name + "-" + std::to_string(getpid()));
  BrokerLink& link = *owned_link;
  setup(*config, link);
  runtime::HttpServer health;
  health.handle("/healthz", [&link] {
    const LinkState state = link.state();
    const nlohmann::json body = {
        {"status", "healthy"},  // the process works without the broker (seed 002)
        {"dependencies",
         {{"rabbitmq", {{"status", linkStateName(state)}, {"connected", state == LinkState::kConnected},
                        {"pending_events", link.pending()}}}}}};
    return runtime::HttpReply{200, "application/json", body.dump() + "\n"};
  });
  if (!config->health_address.empty()) {
    if (auto started = health.start(config->health_address); !started) {
      log::error("cannot serve /healthz", {log::Field("error", started.error().message)});
      return 1;
    }
  }
  link.start();
  log::info("started", {log::Field("program", name), log::Field("protocol", config->protocol),
                        log::Field("broker", config->host + ":" + std::to_string(config->port)),
                        log::Field("topic", config->topic)});
  auto& shutdown = app::ShutdownSignal::instance();
  while (!shutdown.waitFor(config->interval)) tick(*config, link);
  link.stop();
  health.stop();
  log::info("stopped", {log::Field("program", name)});
  return 0;
}

}  // namespace warren::counting
