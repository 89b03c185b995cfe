# Cross-compiles for 64-bit Arm Linux with Debian's aarch64-linux-gnu
# toolchain and arm64 multiarch libraries; test binaries run through
# qemu-aarch64 (ctest and gtest discovery use CMAKE_CROSSCOMPILING_EMULATOR).
# Set up by scripts/setup_arm64.sh; used by scripts/test_arm64.sh.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# No -L: the binaries load the multiarch arm64 glibc under /lib (libc6:arm64,
# pulled in by the arm64 -dev packages), one consistent loader and libc. With
# -L /usr/aarch64-linux-gnu the cross package's ld.so met the multiarch libc
# of another build and the first thread never started.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
# Headers and arch-independent CMake packages (nlohmann_json) are shared by
# both architectures; libraries and their CMake configs come from
# /usr/lib/aarch64-linux-gnu, which CMAKE_LIBRARY_ARCHITECTURE puts first.
# pkg-config (PCRE2, utf8proc, cpp-httplib) must read the arm64 .pc files,
# not the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
