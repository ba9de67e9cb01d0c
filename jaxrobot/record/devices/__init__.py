"""Device I/O for leaders: servo buses (Dynamixel / Feetech) and HID devices, with wire-protocol emulators."""
