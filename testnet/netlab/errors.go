package netlab

import "errors"

// ErrNeedsLinux means the lab was asked for on another OS: it is made of
// Linux network namespaces and nftables rulesets.
var ErrNeedsLinux = errors.New("network-namespace lab needs Linux (ip netns, nftables)")

// ErrNotRoot means the process lacks the privilege to create network
// namespaces (run as root, e.g. `sudo`).
var ErrNotRoot = errors.New("netlab needs root to create network namespaces (run as root)")

// ErrMissingTool means a command netlab runs is not installed. The wrapping
// error names the command and the package to install.
var ErrMissingTool = errors.New("netlab needs a missing tool")

// ErrInvalidConfig means a Config was rejected; the wrapping error names the
// field.
var ErrInvalidConfig = errors.New("invalid netlab config")

// ErrUnknownHost means a host name that is not part of the lab.
var ErrUnknownHost = errors.New("no such host in the lab")

// ErrClosed means the lab was closed; its namespaces are gone.
var ErrClosed = errors.New("netlab lab closed")

// ErrBadPrefix means a string is not a lab prefix made by New.
var ErrBadPrefix = errors.New("not a netlab lab prefix")
