# Check harness for the generated Vivado / HLS scripts, run by plain tclsh (zynqyolo.hls.tclcheck).
#
#   tclsh check_harness.tcl MODE SCRIPT LOG ACCEL_VLNV ACCEL_PINS ACCEL_INTF_PINS
#
# MODE is "vivado" or "hls". Every tool command the script may call is a stub that records the call
# (one JSON object per line in LOG) and checks what can be checked without the tool:
#   - only commands listed below exist (anything else is "not a Vivado/HLS command");
#   - Tcl 8.6-only commands are removed (Vivado and the HLS tools embed Tcl 8.5);
#   - block-design cells exist before their pins are used; every pin and interface pin belongs to
#     the cell's IP (the tables below), including pins an option removes (an AXI DMA without S2MM
#     has no S2MM ports, one without scatter-gather no M_AXI_SG; an AXI interconnect has NUM_SI
#     slave and NUM_MI master ports);
#   - every CONFIG.* property set on a cell is one of the IP's properties (the tables below);
#   - HLS: files given to add_files and the -I folders of -cflags exist; csim/cosim -argv files exist.
# Where the names come from: PG021 (AXI DMA v7.1: c_include_sg, c_sg_length_width 8..26, the
# MM2S/S2MM/SG ports), UG835 (Vivado Tcl commands), UG902/UG1399 (HLS commands), and block-design
# scripts written by Vivado itself (write_bd_tcl) for processing_system7 5.5, axi_interconnect 2.1,
# proc_sys_reset 5.0 and axi_dma 7.1 pin and parameter names; PG144 (AXI GPIO v2.0: C_GPIO_WIDTH,
# C_ALL_OUTPUTS, C_DOUT_DEFAULT, the gpio_io_o/i/t pins of its GPIO interface) and PG164
# (proc_sys_reset v5.0: C_AUX_RESET_HIGH, aux_reset_in).
# Harness names start with zyh_ so the checked script (zy_*) cannot clobber them.
# Fault injection for tests: ZY_FAIL_COMMAND=<command> makes that stub fail; ZY_ACCEL_AXIS gives the
# accelerator's stream pins other AXI4-Stream parameters (zyh_intf_param); ZY_FAKE_TB_FAIL=<call>
# makes the stubbed csim/cosim report that test vector failed.
# The stubs return plausible values; with ZY_FAKE_OUTPUTS=1, launch_runs impl_1 writes dummy .bit
# and .hwh files where Vivado would, so the script runs to its end.

lassign $argv zyh_mode zyh_script zyh_log zyh_accel_vlnv zyh_accel_pins zyh_accel_intf_pins
set zyh_logfh [open $zyh_log w]

foreach cmd {try throw lmap tailcall coroutine yield yieldto zlib} {
    catch {rename ::$cmd {}}
}

proc zyh_json {s} {
    return "\"[string map [list \\ \\\\ \" \\\" \n \\n \r \\r \t \\t] $s]\""
}
proc zyh_record {cmd args} {
    if {[info exists ::env(ZY_FAIL_COMMAND)] && $::env(ZY_FAIL_COMMAND) eq $cmd} {
        error "simulated failure of $cmd (ZY_FAIL_COMMAND)"
    }
    set items {}
    foreach a $args { lappend items [zyh_json $a] }
    puts $::zyh_logfh "{\"cmd\": [zyh_json $cmd], \"args\": \[[join $items {, }]\]}"
    flush $::zyh_logfh
}
set zyh_quiet 0
proc zyh_fail {msg} {
    if {!$::zyh_quiet} { zyh_record zyh_error $msg }
    error "zynqyolo check: $msg"
}
proc zyh_option {args_list name {default ""}} {
    set i [lsearch -exact $args_list $name]
    if {$i < 0} { return $default }
    return [lindex $args_list [expr {$i + 1}]]
}
proc zyh_positional {args_list with_value} {
    # Arguments that are neither options nor option values.
    set out {}
    for {set i 0} {$i < [llength $args_list]} {incr i} {
        set a [lindex $args_list $i]
        if {[string match -* $a]} {
            if {[lsearch -exact $with_value $a] >= 0} { incr i }
            continue
        }
        lappend out $a
    }
    return $out
}

# The tool exits through `exit`: record the code and unwind to the harness.
rename exit zyh_real_exit
proc exit {{code 0}} {
    zyh_record exit $code
    return -code error "zy-exit $code"
}

# Unknown commands: Tcl's autoloader would look for executables; refuse instead.
rename unknown zyh_real_unknown
proc unknown {args} {
    zyh_fail "'[lindex $args 0]' is not a $::zyh_mode command this harness knows (not in UG835/UG902/UG1399 as checked)"
}

# ---------------------------------------------------------------------------------------------------
# Vivado
# ---------------------------------------------------------------------------------------------------

# IP name (from the VLNV) -> CONFIG properties the scripts may set.
array set zyh_ip_props {
    processing_system7 {PCW_FPGA0_PERIPHERAL_FREQMHZ PCW_FCLK0_PERIPHERAL_CLKSRC PCW_FPGA_FCLK0_ENABLE PCW_USE_M_AXI_GP0
                        PCW_USE_S_AXI_HP0 PCW_S_AXI_HP0_DATA_WIDTH PCW_USE_S_AXI_HP1 PCW_S_AXI_HP1_DATA_WIDTH
                        PCW_USE_S_AXI_HP2 PCW_S_AXI_HP2_DATA_WIDTH PCW_EN_CLK0_PORT PCW_EN_RST0_PORT}
    axi_dma {c_include_sg c_sg_length_width c_sg_include_stscntrl_strm c_include_mm2s c_include_s2mm
             c_m_axi_mm2s_data_width c_m_axis_mm2s_tdata_width c_mm2s_burst_size
             c_m_axi_s2mm_data_width c_s_axis_s2mm_tdata_width c_s2mm_burst_size c_addr_width}
    axi_interconnect {NUM_SI NUM_MI}
    proc_sys_reset {C_AUX_RESET_HIGH C_AUX_RST_WIDTH C_EXT_RESET_HIGH C_EXT_RST_WIDTH}
    axi_gpio {C_GPIO_WIDTH C_ALL_OUTPUTS C_ALL_INPUTS C_DOUT_DEFAULT C_TRI_DEFAULT C_IS_DUAL}
}
# IP name -> pins and interface pins. Per-port names of the interconnect are checked by pattern.
array set zyh_ip_pins {
    processing_system7 {FCLK_CLK0 FCLK_RESET0_N M_AXI_GP0_ACLK S_AXI_HP0_ACLK S_AXI_HP1_ACLK S_AXI_HP2_ACLK}
    axi_dma {s_axi_lite_aclk m_axi_mm2s_aclk m_axi_s2mm_aclk m_axi_sg_aclk axi_resetn mm2s_introut s2mm_introut}
    proc_sys_reset {slowest_sync_clk ext_reset_in aux_reset_in mb_debug_sys_rst dcm_locked
                    peripheral_aresetn interconnect_aresetn mb_reset bus_struct_reset peripheral_reset}
    axi_gpio {s_axi_aclk s_axi_aresetn gpio_io_o gpio_io_i gpio_io_t ip2intc_irpt}
}
array set zyh_ip_intf {
    processing_system7 {M_AXI_GP0 S_AXI_HP0 S_AXI_HP1 S_AXI_HP2 DDR FIXED_IO}
    axi_dma {S_AXI_LITE M_AXI_MM2S M_AXI_S2MM M_AXI_SG M_AXIS_MM2S S_AXIS_S2MM}
    axi_gpio {S_AXI GPIO GPIO2}
}
set zyh_ip_pins(zyh_accel) $zyh_accel_pins
set zyh_ip_intf(zyh_accel) $zyh_accel_intf_pins

set zyh_cells [dict create]         ;# cell name -> IP name
set zyh_props [dict create]         ;# cell name -> dict of CONFIG.* values
set zyh_state [dict create proj_dir "" proj_name "" bd "" board_part ""]

proc zyh_cell_name {obj} { return [string trimleft $obj /] }
proc zyh_prop {cell name {default ""}} {
    if {[dict exists $::zyh_props $cell $name]} { return [dict get $::zyh_props $cell $name] }
    return $default
}
proc zyh_check_pin {path intf} {
    set parts [split [string trimleft $path /] /]
    if {[llength $parts] != 2} { zyh_fail "pin path '$path' is not <cell>/<pin>" }
    lassign $parts cell pin
    if {![dict exists $::zyh_cells $cell]} { zyh_fail "pin $path: no cell '$cell' was created" }
    set ip [dict get $::zyh_cells $cell]
    if {$ip eq "axi_interconnect"} {
        if {[regexp {^(S|M)(\d\d)_(AXI|ACLK|ARESETN)$} $pin -> side num kind]} {
            set limit [zyh_prop $cell [expr {$side eq "S" ? "NUM_SI" : "NUM_MI"}] 1]
            if {[scan $num %d] >= $limit} { zyh_fail "pin $path: $cell has only $limit ${side}xx ports" }
            if {($kind eq "AXI") != $intf} { zyh_fail "pin $path: wrong kind (interface vs net pin)" }
            return
        }
        if {!$intf && ($pin eq "ACLK" || $pin eq "ARESETN")} { return }
        zyh_fail "pin $path: not an AXI Interconnect pin"
    }
    set table [expr {$intf ? "zyh_ip_intf" : "zyh_ip_pins"}]
    if {![info exists ::${table}($ip)] || [lsearch -exact [set ::${table}($ip)] $pin] < 0} {
        zyh_fail "[expr {$intf ? "interface pin" : "pin"}] $path: $ip has no '$pin'"
    }
    if {$ip eq "axi_dma"} {
        foreach dir {mm2s s2mm} {
            if {[string match -nocase *${dir}* $pin] && [zyh_prop $cell c_include_$dir 1] == 0} {
                zyh_fail "pin $path: $cell is configured without its [string toupper $dir] channel"
            }
        }
        if {[string match -nocase *_sg* $pin] && [zyh_prop $cell c_include_sg 1] == 0} {
            zyh_fail "pin $path: $cell is configured without scatter-gather (c_include_sg 0)"
        }
    }
    if {$ip eq "axi_gpio"} {
        # PG144: an all-outputs GPIO has no gpio_io_i/gpio_io_t, an all-inputs one no gpio_io_o; GPIO2
        # exists only when dual
        if {$pin eq "gpio_io_o" && [zyh_prop $cell C_ALL_INPUTS 0] == 1} {
            zyh_fail "pin $path: $cell is configured all-inputs (C_ALL_INPUTS 1)"
        }
        if {($pin eq "gpio_io_i" || $pin eq "gpio_io_t") && [zyh_prop $cell C_ALL_OUTPUTS 0] == 1} {
            zyh_fail "pin $path: $cell is configured all-outputs (C_ALL_OUTPUTS 1)"
        }
        if {$pin eq "GPIO2" && [zyh_prop $cell C_IS_DUAL 0] != 1} {
            zyh_fail "interface pin $path: $cell is not dual (C_IS_DUAL 0)"
        }
    }
    if {$ip eq "processing_system7" && [regexp {^S_AXI_(HP\d)} $pin -> hp]} {
        if {[zyh_prop $cell PCW_USE_S_AXI_$hp 0] != 1} { zyh_fail "pin $path: $hp is not enabled" }
    }
}

proc create_project {args} {
    zyh_record create_project {*}$args
    lassign [zyh_positional $args {-part}] name dir
    dict set ::zyh_state proj_name $name
    dict set ::zyh_state proj_dir $dir
    return $name
}
proc current_project {args} { return [dict get $::zyh_state proj_name] }
proc current_fileset {args} { return sources_1 }
proc get_board_parts {args} {
    zyh_record get_board_parts {*}$args
    if {[info exists ::env(ZY_NO_BOARD_PARTS)]} { return {} }
    return [string map {* 1.0} [lindex [zyh_positional $args {-filter}] end]]
}
proc update_ip_catalog {args} { zyh_record update_ip_catalog {*}$args }
proc get_ipdefs {args} {
    zyh_record get_ipdefs {*}$args
    set filter [zyh_option $args -filter]
    if {![regexp {VLNV\s*(=~|==)\s*"?([^" ]+)"?} $filter -> op pattern]} {
        zyh_fail "get_ipdefs: expected -filter {VLNV =~ <pattern>} or {VLNV == <vlnv>}, got '$filter'"
    }
    if {[info exists ::env(ZY_MISSING_IP)] && [string match $::env(ZY_MISSING_IP) $pattern]} { return {} }
    return [string map {* 9.9} $pattern]
}
proc set_property {args} {
    zyh_record set_property {*}$args
    if {[lindex $args 0] eq "-dict"} {
        set pairs [lindex $args 1]
        set objs [lrange $args 2 end]
    } else {
        set pairs [lrange $args 0 1]
        set objs [lrange $args 2 end]
    }
    if {[llength $pairs] % 2} { zyh_fail "set_property: odd name/value list '$pairs'" }
    foreach obj $objs {
        set cell [zyh_cell_name $obj]
        if {![dict exists $::zyh_cells $cell]} { continue }
        set ip [dict get $::zyh_cells $cell]
        foreach {name value} $pairs {
            if {![string match CONFIG.* $name]} { zyh_fail "set_property $name on cell $cell: expected CONFIG.*" }
            set p [string range $name 7 end]
            if {![info exists ::zyh_ip_props($ip)] || [lsearch -exact $::zyh_ip_props($ip) $p] < 0} {
                zyh_fail "set_property: $ip has no parameter $p"
            }
            dict set ::zyh_props $cell $p $value
        }
    }
}
proc get_property {name obj} {
    zyh_record get_property $name $obj
    switch -glob -- $name {
        PROGRESS { return 100% }
        STATUS { return "write_bitstream Complete!" }
        STATS.WNS { return 0.412 }
        DIRECTORY {
            return [file join [dict get $::zyh_state proj_dir] [dict get $::zyh_state proj_name].runs $obj]
        }
        CONFIG.PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ {
            return [zyh_fclk [zyh_prop [zyh_cell_name $obj] PCW_FPGA0_PERIPHERAL_FREQMHZ 50]]
        }
        CONFIG.* {
            set parts [split [string trimleft $obj /] /]
            if {[llength $parts] == 2} {
                return [zyh_intf_param {*}$parts [string range $name 7 end]]
            }
            return [zyh_prop [zyh_cell_name $obj] [string range $name 7 end]]
        }
        default { zyh_fail "get_property $name: the harness has no value for it" }
    }
}
# FCLK0 as the PS7 makes it (UG585 FPGA0_CLK_CTRL): the IO PLL (ZY_IO_PLL_MHZ, default 1000) over
# the divisor product (two 6-bit divisors, 1..63 each) nearest to PLL / request, as PYNQ's setter
# picks it: 150 MHz asked gives 142.857143.
proc zyh_fclk {requested} {
    set pll 1000.0
    if {[info exists ::env(ZY_IO_PLL_MHZ)]} { set pll $::env(ZY_IO_PLL_MHZ) }
    set best 0
    for {set a 1} {$a <= 63} {incr a} {
        for {set b 1} {$b <= 63} {incr b} {
            if {$best == 0 || abs($a * $b - $pll / $requested) < abs($best - $pll / $requested)} { set best [expr {$a * $b}] }
        }
    }
    return [format %.6f [expr {$pll / $best}]]
}
# AXI4-Stream parameters of an interface pin (CONFIG.HAS_TLAST, CONFIG.TDATA_NUM_BYTES). AXI DMA
# (PG021): M_AXIS_MM2S and S_AXIS_S2MM carry TLAST; TDATA is c_m_axis_mm2s_tdata_width or
# c_s_axis_s2mm_tdata_width bits (default 32). The accelerator: TLAST and 8 bytes on every stream
# pin, unless ZY_ACCEL_AXIS="<pin>=<bytes>:<has_tlast> ..." says otherwise (fault injection).
proc zyh_intf_param {cell pin param} {
    if {![dict exists $::zyh_cells $cell]} { zyh_fail "get_property CONFIG.$param: no cell '$cell'" }
    set ip [dict get $::zyh_cells $cell]
    if {$ip eq "axi_dma" && $pin in {M_AXIS_MM2S S_AXIS_S2MM}} {
        set width [zyh_prop $cell [expr {$pin eq "M_AXIS_MM2S" ? "c_m_axis_mm2s_tdata_width" :
                                          "c_s_axis_s2mm_tdata_width"}] 32]
        set values [dict create HAS_TLAST 1 TDATA_NUM_BYTES [expr {$width / 8}]]
    } elseif {$ip eq "zyh_accel" && $pin in $::zyh_accel_intf_pins && ![string match s_axi_* $pin]} {
        set values [dict create HAS_TLAST 1 TDATA_NUM_BYTES 8]
        if {[info exists ::env(ZY_ACCEL_AXIS)]} {
            foreach spec $::env(ZY_ACCEL_AXIS) {
                if {[regexp {^([^=]+)=(\d+):([01])$} $spec -> p bytes last] && $p eq $pin} {
                    set values [dict create HAS_TLAST $last TDATA_NUM_BYTES $bytes]
                }
            }
        }
    } else {
        zyh_fail "get_property CONFIG.$param of $cell/$pin: the harness knows AXI4-Stream parameters of the DMA and\
                  accelerator stream pins only"
    }
    if {![dict exists $values $param]} { zyh_fail "get_property CONFIG.$param of $cell/$pin: not an AXI4-Stream parameter" }
    return [dict get $values $param]
}
proc create_bd_design {name} {
    zyh_record create_bd_design $name
    dict set ::zyh_state bd $name
    return $name
}
proc create_bd_cell {args} {
    zyh_record create_bd_cell {*}$args
    if {[zyh_option $args -type] ne "ip"} { zyh_fail "create_bd_cell: only -type ip is used" }
    set vlnv [zyh_option $args -vlnv]
    set name [lindex [zyh_positional $args {-type -vlnv}] 0]
    set fields [split $vlnv :]
    if {[llength $fields] != 4} { zyh_fail "create_bd_cell $name: '$vlnv' is not vendor:library:name:version" }
    set ip [lindex $fields 2]
    if {$vlnv eq $::zyh_accel_vlnv} { set ip zyh_accel }
    if {$ip ne "zyh_accel" && ![info exists ::zyh_ip_props($ip)]} { zyh_fail "create_bd_cell: unexpected IP $vlnv" }
    dict set ::zyh_cells $name $ip
    return /$name
}
proc get_bd_cells {args} {
    set name [zyh_cell_name [lindex $args end]]
    if {![dict exists $::zyh_cells $name]} { zyh_fail "get_bd_cells $name: no such cell" }
    return /$name
}
proc get_bd_pins {path} { zyh_check_pin $path 0; return /[string trimleft $path /] }
proc get_bd_intf_pins {args} {
    set of [zyh_option $args -of_objects]
    if {$of ne ""} {
        set cell [zyh_cell_name $of]
        set ip [dict get $::zyh_cells $cell]
        set out {}
        foreach pin $::zyh_ip_intf($ip) { lappend out /$cell/$pin }
        return $out
    }
    set path [lindex [zyh_positional $args {-filter}] end]
    if {[lsearch -exact $args -quiet] >= 0} {
        set ::zyh_quiet 1
        set bad [catch {zyh_check_pin $path 1}]
        set ::zyh_quiet 0
        if {$bad} { return {} }
    } else {
        zyh_check_pin $path 1
    }
    return /[string trimleft $path /]
}
proc connect_bd_net {args} { zyh_record connect_bd_net {*}$args }
proc connect_bd_intf_net {args} { zyh_record connect_bd_intf_net {*}$args }
proc apply_bd_automation {args} {
    zyh_record apply_bd_automation {*}$args
    if {[zyh_option $args -rule] ne "xilinx.com:bd_rule:processing_system7"} {
        zyh_fail "apply_bd_automation: only the processing_system7 rule is used"
    }
}
foreach zyh_cmd {assign_bd_address validate_bd_design save_bd_design update_compile_order wait_on_run
                close_project} {
    proc $zyh_cmd {args} "zyh_record $zyh_cmd {*}\$args"
}
proc get_files {args} { zyh_record get_files {*}$args; return [lindex $args end] }
proc make_wrapper {args} {
    zyh_record make_wrapper {*}$args
    set bd [dict get $::zyh_state bd]
    return [file join [dict get $::zyh_state proj_dir] ${bd}_wrapper.v]
}
proc add_files {args} {
    zyh_record add_files {*}$args
    if {$::zyh_mode eq "hls"} { zyh_hls_add_files $args }
}
proc get_runs {name} { return $name }
proc launch_runs {args} {
    zyh_record launch_runs {*}$args
    set run [lindex [zyh_positional $args {-jobs -to_step}] 0]
    if {$run eq "impl_1" && [info exists ::env(ZY_FAKE_OUTPUTS)]} {
        set dir [get_property DIRECTORY impl_1]
        file mkdir $dir
        set bd [dict get $::zyh_state bd]
        set fh [open [file join $dir ${bd}_wrapper.bit] w]; puts $fh "fake bitstream"; close $fh
        set hh [file join [dict get $::zyh_state proj_dir] [dict get $::zyh_state proj_name].gen sources_1 bd \
                    $bd hw_handoff]
        file mkdir $hh
        set fh [open [file join $hh $bd.hwh] w]; puts $fh "<fake hwh/>"; close $fh
    }
}
proc version {args} { return 2022.2 }

# ---------------------------------------------------------------------------------------------------
# HLS
# ---------------------------------------------------------------------------------------------------

proc zyh_hls_add_files {args_list} {
    set files [zyh_positional $args_list {-cflags -csimflags}]
    foreach f $files {
        if {![file isfile $f]} { zyh_fail "add_files: $f does not exist" }
    }
    foreach flag [zyh_option $args_list -cflags] {
        if {[string match -I* $flag] && ![file isdirectory [string range $flag 2 end]]} {
            zyh_fail "add_files -cflags: include folder [string range $flag 2 end] does not exist"
        }
    }
}
foreach zyh_cmd {open_project set_top open_solution set_part create_clock csynth_design export_design} {
    proc $zyh_cmd {args} "zyh_record $zyh_cmd {*}\$args"
}
# With ZY_FAKE_TB=1 the simulation stubs print what the testbench would: "PASS <call>" for every
# call of the -argv vectors file ("FAIL <call>" for ZY_FAKE_TB_FAIL), and cosim Vitis HLS's verdict.
proc zyh_fake_tb {argv_file cosim} {
    if {![info exists ::env(ZY_FAKE_TB)] || $argv_file eq ""} { return }
    set fh [open $argv_file]
    set failed 0
    foreach line [split [read $fh] "\n"] {
        if {[regexp {^call (\S+)$} $line -> call]} {
            set bad [expr {[info exists ::env(ZY_FAKE_TB_FAIL)] && $::env(ZY_FAKE_TB_FAIL) eq $call}]
            puts "[expr {$bad ? "FAIL" : "PASS"}] $call (stub)"
            incr failed $bad
        }
    }
    close $fh
    if {$cosim} {
        puts "INFO: \[COSIM 212-1000\] *** C/RTL co-simulation finished: [expr {$failed ? "FAIL" : "PASS"}] ***"
    }
}
proc csim_design {args} {
    zyh_record csim_design {*}$args
    set argv_file [zyh_option $args -argv]
    if {$argv_file ne "" && ![file isfile $argv_file]} { zyh_fail "csim_design -argv: $argv_file does not exist" }
    zyh_fake_tb $argv_file 0
}
proc cosim_design {args} {
    zyh_record cosim_design {*}$args
    set argv_file [zyh_option $args -argv]
    if {$argv_file ne "" && ![file isfile $argv_file]} { zyh_fail "cosim_design -argv: $argv_file does not exist" }
    zyh_fake_tb $argv_file 1
}

# Commands of the other tool are not available.
if {$zyh_mode eq "hls"} {
    foreach zyh_cmd {create_project current_project current_fileset get_board_parts update_ip_catalog get_ipdefs
                    set_property get_property create_bd_design create_bd_cell get_bd_cells get_bd_pins
                    get_bd_intf_pins connect_bd_net connect_bd_intf_net apply_bd_automation assign_bd_address
                    validate_bd_design save_bd_design update_compile_order wait_on_run close_project get_files
                    make_wrapper get_runs launch_runs version} {
        rename $zyh_cmd {}
    }
} else {
    foreach zyh_cmd {open_project set_top open_solution set_part create_clock csim_design csynth_design
                    cosim_design export_design} {
        rename $zyh_cmd {}
    }
}

# ---------------------------------------------------------------------------------------------------

set zyh_status 0
if {[catch {uplevel #0 [list source $zyh_script]} zyh_err]} {
    if {[regexp {^zy-exit (\d+)$} $zyh_err -> code]} {
        set zyh_status $code
    } else {
        zyh_record zyh_error $zyh_err
        set zyh_status 3
    }
}
close $zyh_logfh
zyh_real_exit $zyh_status
