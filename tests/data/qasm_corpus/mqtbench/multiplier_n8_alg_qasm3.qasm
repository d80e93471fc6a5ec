OPENQASM 3.0;
include "stdgates.inc";
gate qft _gate_q_0, _gate_q_1, _gate_q_2, _gate_q_3 {
  h _gate_q_3;
  cp(pi/2) _gate_q_3, _gate_q_2;
  cp(pi/4) _gate_q_3, _gate_q_1;
  cp(pi/8) _gate_q_3, _gate_q_0;
  h _gate_q_2;
  cp(pi/2) _gate_q_2, _gate_q_1;
  cp(pi/4) _gate_q_2, _gate_q_0;
  h _gate_q_1;
  cp(pi/2) _gate_q_1, _gate_q_0;
  h _gate_q_0;
  swap _gate_q_0, _gate_q_3;
  swap _gate_q_1, _gate_q_2;
}
gate mcphase(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi) _gate_q_2;
  crz(2*pi) _gate_q_0, _gate_q_1;
  p(pi) _gate_q_0;
}
gate mcphase_0(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/2) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/2) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/2) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/2) _gate_q_2;
  crz(pi) _gate_q_0, _gate_q_1;
  p(pi/2) _gate_q_0;
}
gate mcphase_1(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/4) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/4) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/4) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/4) _gate_q_2;
  crz(pi/2) _gate_q_0, _gate_q_1;
  p(pi/4) _gate_q_0;
}
gate mcphase_2(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/8) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/8) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/8) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/8) _gate_q_2;
  crz(pi/4) _gate_q_0, _gate_q_1;
  p(pi/8) _gate_q_0;
}
gate mcphase_3(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/2) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/2) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/2) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/2) _gate_q_2;
  crz(pi) _gate_q_0, _gate_q_1;
  p(pi/2) _gate_q_0;
}
gate mcphase_4(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/4) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/4) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/4) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/4) _gate_q_2;
  crz(pi/2) _gate_q_0, _gate_q_1;
  p(pi/4) _gate_q_0;
}
gate mcphase_5(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/8) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/8) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/8) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/8) _gate_q_2;
  crz(pi/4) _gate_q_0, _gate_q_1;
  p(pi/8) _gate_q_0;
}
gate mcphase_6(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/16) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/16) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/16) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/16) _gate_q_2;
  crz(pi/8) _gate_q_0, _gate_q_1;
  p(pi/16) _gate_q_0;
}
gate mcphase_7(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/2) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/2) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/2) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/2) _gate_q_2;
  crz(pi) _gate_q_0, _gate_q_1;
  p(pi/2) _gate_q_0;
}
gate mcphase_8(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/4) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/4) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/4) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/4) _gate_q_2;
  crz(pi/2) _gate_q_0, _gate_q_1;
  p(pi/4) _gate_q_0;
}
gate mcphase_9(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/8) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/8) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/8) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/8) _gate_q_2;
  crz(pi/4) _gate_q_0, _gate_q_1;
  p(pi/8) _gate_q_0;
}
gate mcphase_10(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/16) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/16) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/16) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/16) _gate_q_2;
  crz(pi/8) _gate_q_0, _gate_q_1;
  p(pi/16) _gate_q_0;
}
gate mcphase_11(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/4) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/4) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/4) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/4) _gate_q_2;
  crz(pi/2) _gate_q_0, _gate_q_1;
  p(pi/4) _gate_q_0;
}
gate mcphase_12(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/8) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/8) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/8) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/8) _gate_q_2;
  crz(pi/4) _gate_q_0, _gate_q_1;
  p(pi/8) _gate_q_0;
}
gate mcphase_13(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/16) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/16) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/16) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/16) _gate_q_2;
  crz(pi/8) _gate_q_0, _gate_q_1;
  p(pi/16) _gate_q_0;
}
gate mcphase_14(_gate_p_0) _gate_q_0, _gate_q_1, _gate_q_2 {
  cx _gate_q_0, _gate_q_2;
  rz(-pi/32) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/32) _gate_q_2;
  cx _gate_q_0, _gate_q_2;
  rz(-pi/32) _gate_q_2;
  cx _gate_q_1, _gate_q_2;
  rz(pi/32) _gate_q_2;
  crz(pi/16) _gate_q_0, _gate_q_1;
  p(pi/32) _gate_q_0;
}
gate qft_dg _gate_q_0, _gate_q_1, _gate_q_2, _gate_q_3 {
  swap _gate_q_1, _gate_q_2;
  swap _gate_q_0, _gate_q_3;
  h _gate_q_0;
  cp(-pi/2) _gate_q_1, _gate_q_0;
  h _gate_q_1;
  cp(-pi/4) _gate_q_2, _gate_q_0;
  cp(-pi/2) _gate_q_2, _gate_q_1;
  h _gate_q_2;
  cp(-pi/8) _gate_q_3, _gate_q_0;
  cp(-pi/4) _gate_q_3, _gate_q_1;
  cp(-pi/2) _gate_q_3, _gate_q_2;
  h _gate_q_3;
}
gate Multiplier _gate_q_0, _gate_q_1, _gate_q_2, _gate_q_3, _gate_q_4, _gate_q_5, _gate_q_6, _gate_q_7 {
  qft _gate_q_4, _gate_q_5, _gate_q_6, _gate_q_7;
  mcphase(4*pi) _gate_q_1, _gate_q_3, _gate_q_7;
  mcphase_0(2*pi) _gate_q_1, _gate_q_3, _gate_q_6;
  mcphase_1(pi) _gate_q_1, _gate_q_3, _gate_q_5;
  mcphase_2(pi/2) _gate_q_1, _gate_q_3, _gate_q_4;
  mcphase_3(2*pi) _gate_q_1, _gate_q_2, _gate_q_7;
  mcphase_4(pi) _gate_q_1, _gate_q_2, _gate_q_6;
  mcphase_5(pi/2) _gate_q_1, _gate_q_2, _gate_q_5;
  mcphase_6(pi/4) _gate_q_1, _gate_q_2, _gate_q_4;
  mcphase_7(2*pi) _gate_q_0, _gate_q_3, _gate_q_7;
  mcphase_8(pi) _gate_q_0, _gate_q_3, _gate_q_6;
  mcphase_9(pi/2) _gate_q_0, _gate_q_3, _gate_q_5;
  mcphase_10(pi/4) _gate_q_0, _gate_q_3, _gate_q_4;
  mcphase_11(pi) _gate_q_0, _gate_q_2, _gate_q_7;
  mcphase_12(pi/2) _gate_q_0, _gate_q_2, _gate_q_6;
  mcphase_13(pi/4) _gate_q_0, _gate_q_2, _gate_q_5;
  mcphase_14(pi/8) _gate_q_0, _gate_q_2, _gate_q_4;
  qft_dg _gate_q_4, _gate_q_5, _gate_q_6, _gate_q_7;
}
bit[8] meas;
qubit[8] q;
Multiplier q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7];
barrier q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7];
meas[0] = measure q[0];
meas[1] = measure q[1];
meas[2] = measure q[2];
meas[3] = measure q[3];
meas[4] = measure q[4];
meas[5] = measure q[5];
meas[6] = measure q[6];
meas[7] = measure q[7];
