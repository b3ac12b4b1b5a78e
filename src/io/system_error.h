#pragma once
// Messages for failed system calls (open, read, fsync, flock, ...), which report their cause in errno.
#include <cerrno>
#include <cstring>
#include <string>

namespace qtalign::io {

// The C library's description of the current errno ("No such file or directory"); call it right
// after the failed call, before anything else can change errno.
inline std::string errno_text() { return std::strerror(errno); }

}  // namespace qtalign::io
