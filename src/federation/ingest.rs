//! The PDU receipt pipeline: the six checks on receipt of a PDU as a step machine
//! (<https://spec.matrix.org/v1.16/server-server-api/#checks-performed-on-receipt-of-a-pdu>).
