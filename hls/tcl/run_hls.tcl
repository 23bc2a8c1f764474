# Body of run_hls.tcl (Vitis HLS 2022.2 or later: vitis_hls -f run_hls.tcl; UG1399 Tcl commands).
# zynqyolo.hls.tcl writes the design point's settings (zy_* variables) above this body; the two
# together are the generated script. Steps: csim, csynth, cosim, export, run in that order; the list
# comes from $ZYNQYOLO_HLS_STEPS or the default below. The project is reset at the start, so cosim
# and export need csynth in the same run. csim and cosim replay the calls of tb/vectors.txt (the
# testbench prints PASS/FAIL per call; cosim runs it in C, then against the RTL). What the run must
# show (every vector passing, the latency model's loops at II 1, the resources within the design
# point's budget) is checked by zynqyolo.hls.tools after the tool exits, from the log and reports.

set zy_here [file dirname [file normalize [info script]]]
cd $zy_here

set zy_known_steps {csim csynth cosim export}
set zy_steps $zy_default_steps
if {[info exists ::env(ZYNQYOLO_HLS_STEPS)]} {
    set zy_steps $::env(ZYNQYOLO_HLS_STEPS)
}
foreach zy_s $zy_steps {
    if {[lsearch -exact $zy_known_steps $zy_s] < 0} {
        puts "zynqyolo: unknown HLS step '$zy_s' (known: $zy_known_steps)"
        exit 1
    }
}
foreach zy_s {cosim export} {
    if {[lsearch -exact $zy_steps $zy_s] >= 0 && [lsearch -exact $zy_steps csynth] < 0} {
        puts "zynqyolo: step $zy_s needs csynth in the same run (the solution is reset first)"
        exit 1
    }
}

# Absolute include paths: csim and cosim compile in solution sub-folders.
set zy_cflags "$zy_std -I[file join $zy_here build] -I[file join $zy_here src include]"
set zy_tbflags "$zy_cflags -I[file join $zy_here src top]"
set zy_vectors [file join $zy_here tb vectors.txt]

open_project -reset $zy_project
set_top $zy_top
add_files [file join $zy_here src top $zy_top_file] -cflags $zy_cflags
add_files -tb [file join $zy_here tb $zy_tb_file] -cflags $zy_tbflags
open_solution -reset -flow_target vivado $zy_solution
set_part $zy_part
create_clock -period $zy_period_ns -name default

# One step: markers in the log (zynqyolo.hls.tools reads them), a clear failure, exit code 1.
proc zy_step {name script} {
    puts "zynqyolo: step $name: begin"
    set t0 [clock seconds]
    if {[catch {uplevel #0 $script} err]} {
        puts "zynqyolo: step $name: FAILED: $err"
        exit 1
    }
    puts "zynqyolo: step $name: done in [expr {[clock seconds] - $t0}] s"
}

foreach zy_s $zy_known_steps {
    if {[lsearch -exact $zy_steps $zy_s] < 0} {
        continue
    }
    switch -- $zy_s {
        csim {
            zy_step csim {csim_design -argv $zy_vectors}
        }
        csynth {
            zy_step csynth {csynth_design}
        }
        cosim {
            zy_step cosim {cosim_design -rtl verilog -argv $zy_vectors}
        }
        export {
            zy_step export {export_design -format ip_catalog -vendor $zy_ip_vendor -library $zy_ip_library \
                -ipname $zy_ip_name -version $zy_ip_version -display_name $zy_ip_display_name \
                -description $zy_ip_description}
        }
    }
}
puts "zynqyolo: all steps done: $zy_steps"
exit
