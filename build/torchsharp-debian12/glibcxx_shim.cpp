// glibcxx_shim.cpp - stand-in for the one GCC 13 libstdc++ symbol that TorchSharp's native shim needs.
//
// libLibTorchSharp.so (TorchSharp 0.107.0) was linked against GCC 13's libstdc++ and imports
// std::ios_base_library_init() (_ZSt21ios_base_library_initv, symbol version GLIBCXX_3.4.32).
// Debian 12 ships GCC 12's libstdc++, whose newest version is GLIBCXX_3.4.30, so the loader refuses the
// library. fix-libtorchsharp.sh (beside this file) builds it into libglibcxx_shim.so, puts that next
// to libLibTorchSharp.so and makes libLibTorchSharp.so depend on it instead of on GLIBCXX_3.4.32.
//
// In GCC 13 the function only exists so that code including <iostream> pulls in the library's
// iostream initialisation. With GCC 12 the standard streams are set up by std::ios_base::Init
// objects instead; we keep one here so that they are ready before libLibTorchSharp.so's own static
// initialisers run (this library is one of its dependencies, so it is initialised first).
// ios_base::Init is reference counted, so an extra instance is harmless.
#include <ios>

namespace {
std::ios_base::Init glibcxx_shim_ios_init;
}

namespace std {
__attribute__((visibility("default"))) void ios_base_library_init() {}
}
