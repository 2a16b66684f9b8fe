#include "controllers/backend_clients.h"

#include <dlfcn.h>

#include <mutex>

namespace warren::controllers {

Result<std::shared_ptr<const BackendClients>> loadBackendClients() {
  static std::mutex mutex;
  static std::shared_ptr<const BackendClients> loaded;
  const std::lock_guard lock(mutex);
  if (loaded) return loaded;
  auto unavailable = [](const std::string& why) {
    return Error::local("BackendClientsUnavailable", std::string(kBackendClientsModule) + ": " + why);
  };
  // Never closed: the clients it makes live as long as the process.
  void* module = dlopen(kBackendClientsModule, RTLD_NOW | RTLD_LOCAL);
  if (module == nullptr) {
    const char* why = dlerror();
    return unavailable(why != nullptr ? why : "cannot be opened");
  }
  auto entry = reinterpret_cast<BackendClientsEntry>(dlsym(module, kBackendClientsEntry));
  if (entry == nullptr) {
    dlclose(module);
    return unavailable(std::string("has no entry point ") + kBackendClientsEntry);
  }
  auto clients = std::make_shared<BackendClients>();
  if (!entry(kBackendClientsAbiTag, clients.get()) || !clients->offload || !clients->management) {
    clients.reset();  // whatever the module made goes before its code does
    dlclose(module);
    return unavailable(std::string("was built for another warren (wanted ") + kBackendClientsAbiTag + ")");
  }
  loaded = std::move(clients);
  return loaded;
}

}  // namespace warren::controllers
