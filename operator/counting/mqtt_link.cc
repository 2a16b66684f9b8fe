#include "counting/mqtt_link.h"

#include <mqtt/async_client.h>

namespace warren::counting {

Status MqttLink::serve() {
  const std::string uri = "tcp://" + config().host + ":" + std::to_string(config().port);
  mqtt::async_client client(uri, clientId());
  mqtt::connect_options options;
  options.set_clean_session(true);
  options.set_keep_alive_interval(std::chrono::seconds(5));
  options.set_connect_timeout(std::chrono::seconds(5));
  if (!config().username.empty()) {
    options.set_user_name(config().username);
    options.set_password(config().password);
  }
  client.set_connection_lost_handler([this](const std::string&) { markLost(); });
  if (subscribed()) client.set_message_callback([this](mqtt::const_message_ptr message) { deliver(message->to_string()); });
  client.connect(options)->wait();
  if (subscribed()) client.subscribe(config().topic, 1)->wait();
  markConnected();
  Status result = okStatus();
  while (!stopping() && !lost()) {
    std::string message;
    while (takeNext(message)) {
      try {
        client.publish(config().topic, message, 1, false);
      } catch (const std::exception& e) {
        giveBack(std::move(message));
        result = Error::local("PublishFailed", e.what());
        break;
      }
    }
    if (!result) break;
    waitForWork(std::chrono::seconds(1));
  }
  try {
    if (client.is_connected()) client.disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const std::exception&) {
    // Closing a connection that is going anyway.
  }
  if (!result) return result;
  return stopping() ? okStatus() : Status(Error::local("ConnectionLost", "the broker closed the MQTT connection"));
}

}  // namespace warren::counting
