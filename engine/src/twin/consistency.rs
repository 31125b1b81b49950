//! Consistency checks between the twins and the race state (to be written).
