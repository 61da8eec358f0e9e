// The objects behind the C API's opaque backend handle (backends_c.h), shared by the backend
// and pump halves of the C API.
#pragma once

#include <memory>

#include "aero/devices/backends.h"
#include "aero/devices/backends_c.h"

struct aero_backend {
  // Exactly one is set.
  std::unique_ptr<aero::devices::FrameQueueBackend> queue;
  std::unique_ptr<aero::devices::AipcRingBackend> ring;

  aero::devices::FrameBackend& backend() {
    if (queue) return *queue;
    return *ring;
  }
};
