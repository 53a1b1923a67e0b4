//! The outbound IP policy (deny and allow ranges, against SSRF) and server ACLs
//! (<https://spec.matrix.org/v1.16/server-server-api/#server-access-control-lists-acls>).
