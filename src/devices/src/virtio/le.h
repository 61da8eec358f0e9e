// Little-endian field access for virtio structures (see ../little_endian.h).
#pragma once

#include "../little_endian.h"

namespace aero::devices::virtio {

using devices::le16;
using devices::le32;
using devices::le64;
using devices::put_le16;
using devices::put_le32;
using devices::put_le64;

}  // namespace aero::devices::virtio
