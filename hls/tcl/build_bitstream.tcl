# Body of build_bitstream.tcl (Vivado 2022.2 or later, the release of the Vitis HLS that exported the
# accelerator IP; batch mode). zynqyolo.hls.bitstream writes
# the design point's settings and the block design's topology (zy_* variables) above this body; the
# two together are the generated script. It expects the accelerator IP exported by the HLS flow in
# $zy_ip_repo (relative to this folder) and leaves <name>.bit, <name>.hwh and result.json in
# vivado/export/, which zynqyolo copies next to the manifest.
#
# Environment: ZYNQYOLO_JOBS (parallel runs, default 4); ZYNQYOLO_BOARD_PART (a board part VLNV,
# overriding the search through $zy_board_part_patterns).

set zy_here [file dirname [file normalize [info script]]]
cd $zy_here
set zy_jobs 4
if {[info exists ::env(ZYNQYOLO_JOBS)]} {
    set zy_jobs $::env(ZYNQYOLO_JOBS)
}
set zy_proj_dir [file join $zy_here vivado]
set zy_export_dir [file join $zy_proj_dir export]

# The newest version of a Xilinx IP in this Vivado's catalog.
proc zy_latest_ipdef {pattern} {
    set defs [get_ipdefs -all -filter "VLNV =~ $pattern"]
    if {[llength $defs] == 0} {
        error "zynqyolo: IP $pattern is not in this Vivado's IP catalog"
    }
    return [lindex [lsort -dictionary $defs] end]
}

# ---- 1. project, board files, IP repository -----------------------------------------------------

create_project -force $zy_proj_name $zy_proj_dir -part $zy_part

set zy_board_part ""
if {[info exists ::env(ZYNQYOLO_BOARD_PART)]} {
    set zy_board_part $::env(ZYNQYOLO_BOARD_PART)
}
if {$zy_board_part eq ""} {
    foreach zy_pattern $zy_board_part_patterns {
        set zy_found [get_board_parts -quiet -latest_file_version $zy_pattern]
        if {[llength $zy_found] > 0} {
            set zy_board_part [lindex $zy_found end]
            break
        }
    }
}
if {$zy_board_part eq ""} {
    error "zynqyolo: no board files for $zy_board in this Vivado (looked for: $zy_board_part_patterns).\
           Install the board files (Vivado board store, or the vendor's board file repository) or set\
           ZYNQYOLO_BOARD_PART to the board part to use."
}
puts "zynqyolo: board part $zy_board_part"
set_property board_part $zy_board_part [current_project]

set_property ip_repo_paths [list [file join $zy_here $zy_ip_repo]] [current_project]
update_ip_catalog -rebuild
if {[llength [get_ipdefs -all -filter "VLNV == $zy_ip_vlnv"]] == 0} {
    error "zynqyolo: the accelerator IP $zy_ip_vlnv is not in [file join $zy_here $zy_ip_repo];\
           run the HLS export first (zynqyolo build does it)"
}

# ---- 2. block design ----------------------------------------------------------------------------

create_bd_design $zy_bd
foreach {zy_name zy_pattern} $zy_ip_cells {
    create_bd_cell -type ip -vlnv [zy_latest_ipdef $zy_pattern] $zy_name
}
create_bd_cell -type ip -vlnv $zy_ip_vlnv $zy_accel_cell
foreach zy_pin $zy_accel_intf_pins {
    if {[llength [get_bd_intf_pins -quiet $zy_accel_cell/$zy_pin]] == 0} {
        error "zynqyolo: the accelerator IP $zy_ip_vlnv has no interface $zy_pin (it has:\
               [get_bd_intf_pins -of_objects [get_bd_cells $zy_accel_cell]]); the top's port names changed"
    }
}

# The board preset first (DDR, MIO, PS clocks), then our PS settings on top of it.
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config {make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"} \
    [get_bd_cells $zy_ps_cell]
foreach {zy_name zy_props} $zy_cell_config {
    set_property -dict $zy_props [get_bd_cells $zy_name]
}

foreach zy_net $zy_intf_nets {
    connect_bd_intf_net [get_bd_intf_pins [lindex $zy_net 0]] [get_bd_intf_pins [lindex $zy_net 1]]
}
foreach zy_pin $zy_clock_pins {
    connect_bd_net [get_bd_pins $zy_clock_source] [get_bd_pins $zy_pin]
}
# Reset nets, each a driving pin and the pins it drives: the PS reset into both proc_sys_resets,
# the system domain (interconnects, reset GPIO), the GPIO into the accelerator domain's aux reset,
# and that domain (the accelerator and both DMAs).
foreach {zy_source zy_sinks} $zy_reset_nets {
    foreach zy_pin $zy_sinks {
        connect_bd_net [get_bd_pins $zy_source] [get_bd_pins $zy_pin]
    }
}

assign_bd_address
validate_bd_design

# The AXI4-Stream links between the DMAs and the accelerator, once connected and their parameters
# propagated: both ends carry TLAST (the DMA's S2MM channel completes a transfer only on TLAST,
# PG021) and TDATA is the design point's bus width at both. IP integrator only warns about a width
# mismatch; here either is an error.
foreach zy_net $zy_stream_nets {
    set zy_bytes {}
    foreach zy_end $zy_net {
        set zy_intf [get_bd_intf_pins $zy_end]
        set zy_tlast [get_property CONFIG.HAS_TLAST $zy_intf]
        if {$zy_tlast ne "1"} {
            error "zynqyolo: AXI4-Stream [join $zy_net { -> }]: $zy_end has no TLAST (CONFIG.HAS_TLAST\
                   '$zy_tlast'); the DMA's S2MM channel never completes a transfer without it. The\
                   accelerator's stream ports must be ap_axiu/hls::axis words (hls/top)"
        }
        lappend zy_bytes [get_property CONFIG.TDATA_NUM_BYTES $zy_intf]
    }
    if {[lindex $zy_bytes 0] ne $zy_stream_bytes || [lindex $zy_bytes 1] ne $zy_stream_bytes} {
        error "zynqyolo: AXI4-Stream [join $zy_net { -> }]: TDATA is [lindex $zy_bytes 0] and\
               [lindex $zy_bytes 1] bytes (CONFIG.TDATA_NUM_BYTES) but the design point streams\
               $zy_stream_bytes-byte words; the IP and the DMA widths must both be the design's bus_bits"
    }
}

# FCLK0 must be the design point's clock: the HLS kernels were timed and the model run at it.
set zy_fclk0_mhz [get_property CONFIG.PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ [get_bd_cells $zy_ps_cell]]
puts "zynqyolo: FCLK0 requested $zy_clock_mhz MHz, the PS gives $zy_fclk0_mhz MHz"
if {abs($zy_fclk0_mhz - $zy_clock_mhz) > 2e-4 * $zy_clock_mhz} {
    error "zynqyolo: the PS makes FCLK0 = $zy_fclk0_mhz MHz, not the design point's $zy_clock_mhz MHz; make\
           the design point with 'zynqyolo dse', which picks a clock the PS can make"
}
save_bd_design

# ---- 3. wrapper, synthesis, implementation, bitstream -------------------------------------------

set zy_bd_file [get_files $zy_bd.bd]
add_files -norecurse [make_wrapper -files $zy_bd_file -top]
set_property top ${zy_bd}_wrapper [current_fileset]
update_compile_order -fileset sources_1

launch_runs synth_1 -jobs $zy_jobs
wait_on_run synth_1
if {[get_property PROGRESS [get_runs synth_1]] ne "100%"} {
    error "zynqyolo: synthesis failed; see [get_property DIRECTORY [get_runs synth_1]]/runme.log"
}
launch_runs impl_1 -to_step write_bitstream -jobs $zy_jobs
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
    error "zynqyolo: implementation failed; see [get_property DIRECTORY [get_runs impl_1]]/runme.log"
}
set zy_wns [get_property STATS.WNS [get_runs impl_1]]
if {$zy_wns < 0} {
    error "zynqyolo: timing not met at $zy_fclk0_mhz MHz (WNS $zy_wns ns); lower clock_mhz in the design point"
}

# ---- 4. hand-off: <name>.bit and <name>.hwh (PYNQ pairs them by basename) ------------------------

set zy_bit [file join [get_property DIRECTORY [get_runs impl_1]] ${zy_bd}_wrapper.bit]
set zy_hwh ""
foreach zy_gen {gen srcs} {
    set zy_cand [file join $zy_proj_dir $zy_proj_name.$zy_gen sources_1 bd $zy_bd hw_handoff $zy_bd.hwh]
    if {[file exists $zy_cand]} {
        set zy_hwh $zy_cand
        break
    }
}
if {![file exists $zy_bit] || $zy_hwh eq ""} {
    error "zynqyolo: bitstream or hardware hand-off not found ($zy_bit, $zy_bd.hwh under $zy_proj_dir)"
}
file mkdir $zy_export_dir
file copy -force $zy_bit [file join $zy_export_dir $zy_design_name.bit]
file copy -force $zy_hwh [file join $zy_export_dir $zy_design_name.hwh]
set zy_fh [open [file join $zy_export_dir result.json] w]
puts $zy_fh "{\"vivado\": \"[version -short]\", \"board_part\": \"$zy_board_part\",\
             \"fclk0_mhz\": $zy_fclk0_mhz, \"wns_ns\": $zy_wns}"
close $zy_fh
puts "zynqyolo: wrote $zy_design_name.bit and $zy_design_name.hwh to $zy_export_dir"
close_project
