OPENQASM 2.0;
include "qelib1.inc";
gate mcphase(param0) q0,q1 { cp(-pi/4) q0,q1; }
gate mcphase_140567988766608(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567996853840(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944234896(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944243024(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944235344(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567996844880(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944237200(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944243152(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944244176(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944240976(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944245392(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944239888(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944246416(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944237840(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944238480(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_140567944236944(param0) q0,q1 { cp(pi/4) q0,q1; }
gate ccircuit_1461 q0,q1,q2,q3,q4,q5,q6 { ccx q0,q1,q3; ccx q0,q2,q4; ccx q0,q1,q6; s q1; h q1; t q1; cx q0,q1; tdg q1; h q1; sdg q1; ccx q0,q3,q1; mcphase(-pi/4) q0,q1; ccx q0,q6,q1; mcphase_140567988766608(pi/4) q0,q1; ccx q0,q3,q1; mcphase(-pi/4) q0,q1; mcphase_140567996853840(pi/4) q0,q3; ccx q0,q6,q1; mcphase_140567944234896(pi/4) q0,q1; s q1; h q1; t q1; cx q0,q1; tdg q1; h q1; sdg q1; ccx q0,q2,q1; s q2; h q2; t q2; cx q0,q2; tdg q2; h q2; sdg q2; ccx q0,q4,q2; mcphase(-pi/4) q0,q2; ccx q0,q1,q2; mcphase_140567944243024(pi/4) q0,q2; ccx q0,q4,q2; mcphase(-pi/4) q0,q2; ccx q0,q1,q2; mcphase_140567944235344(pi/4) q0,q2; s q2; h q2; t q2; cx q0,q2; tdg q2; h q2; sdg q2; ccx q0,q2,q5; s q2; h q2; t q2; cx q0,q2; tdg q2; h q2; sdg q2; mcphase_140567996844880(pi/4) q0,q4; ccx q0,q1,q4; mcphase_140567944237200(pi/4) q0,q1; mcphase(-pi/4) q0,q4; ccx q0,q1,q4; ccx q0,q4,q2; mcphase(-pi/4) q0,q2; ccx q0,q1,q2; mcphase_140567944243152(pi/4) q0,q2; ccx q0,q4,q2; mcphase(-pi/4) q0,q2; ccx q0,q1,q2; mcphase_140567944244176(pi/4) q0,q2; s q2; h q2; t q2; cx q0,q2; tdg q2; h q2; sdg q2; mcphase_140567944240976(pi/4) q0,q4; ccx q0,q1,q4; mcphase_140567944245392(pi/4) q0,q1; mcphase(-pi/4) q0,q4; ccx q0,q1,q4; ccx q0,q2,q1; ccx q0,q1,q4; s q1; h q1; t q1; cx q0,q1; tdg q1; h q1; sdg q1; ccx q0,q6,q3; mcphase(-pi/4) q0,q3; mcphase_140567944239888(pi/4) q0,q6; ccx q0,q6,q3; ccx q0,q3,q1; mcphase(-pi/4) q0,q1; ccx q0,q6,q1; mcphase_140567944246416(pi/4) q0,q1; ccx q0,q3,q1; mcphase(-pi/4) q0,q1; mcphase_140567944237840(pi/4) q0,q3; ccx q0,q6,q1; mcphase_140567944238480(pi/4) q0,q1; s q1; h q1; t q1; cx q0,q1; tdg q1; h q1; sdg q1; ccx q0,q6,q3; mcphase(-pi/4) q0,q3; mcphase_140567944236944(pi/4) q0,q6; ccx q0,q6,q3; ccx q0,q1,q6; ccx q0,q6,q3; }
qreg a[2];
qreg b[2];
qreg out[4];
qreg helper[1];
creg meas[9];
ccircuit_1461 a[0],b[0],b[1],out[0],out[1],out[2],helper[0];
ccircuit_1461 a[1],b[0],b[1],out[1],out[2],out[3],helper[0];
barrier a[0],a[1],b[0],b[1],out[0],out[1],out[2],out[3],helper[0];
measure a[0] -> meas[0];
measure a[1] -> meas[1];
measure b[0] -> meas[2];
measure b[1] -> meas[3];
measure out[0] -> meas[4];
measure out[1] -> meas[5];
measure out[2] -> meas[6];
measure out[3] -> meas[7];
measure helper[0] -> meas[8];