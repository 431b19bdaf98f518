//! SSH sessions to VMs and the transfer engine (work in progress).
