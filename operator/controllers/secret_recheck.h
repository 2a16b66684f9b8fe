// How often controllers re-read the Secrets they depend on. warren never
// lists or watches Secrets (no cluster-wide read of every password), so a
// controller whose output depends on a Secret, or is written into one,
// re-reads it this often to undo drift: someone re-applying an app's Secret,
// deleting a rendered config, rotating the default user's password. Reads
// only: in steady state nothing is written.
#pragma once

#include <chrono>

namespace warren::controllers {

inline constexpr std::chrono::milliseconds kDefaultSecretRecheck{60000};

}  // namespace warren::controllers
