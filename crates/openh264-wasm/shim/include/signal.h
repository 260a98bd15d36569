/* OpenH264's thread header includes <signal.h> but uses nothing from it; wasm has no signals. */
#ifndef SIGHTLINE_SIGNAL_SHIM_H
#define SIGHTLINE_SIGNAL_SHIM_H
#endif
