// A stand-in for the lead's BUILD/rtl/unet_accel_ip.v (issue 22), used by tests/pynq only while that
// file is not generated yet: the spec's ports (Vitis HLS names, active-low reset, TKEEP) around the
// existing unet_accel. TKEEP in is ignored (whole beats), TKEEP out is all ones; no abort, no STATUS.
`timescale 1ns / 1ps
module unet_accel_ip (
    input  wire        ap_clk,
    input  wire        ap_rst_n,
    input  wire [11:0] s_axi_control_AWADDR, input wire s_axi_control_AWVALID, output wire s_axi_control_AWREADY,
    input  wire [31:0] s_axi_control_WDATA, input wire [3:0] s_axi_control_WSTRB, input wire s_axi_control_WVALID,
    output wire        s_axi_control_WREADY,
    output wire [1:0]  s_axi_control_BRESP, output wire s_axi_control_BVALID, input wire s_axi_control_BREADY,
    input  wire [11:0] s_axi_control_ARADDR, input wire s_axi_control_ARVALID, output wire s_axi_control_ARREADY,
    output wire [31:0] s_axi_control_RDATA, output wire [1:0] s_axi_control_RRESP, output wire s_axi_control_RVALID,
    input  wire        s_axi_control_RREADY,
    input  wire [31:0] s_axis_TDATA, input wire [3:0] s_axis_TKEEP, input wire s_axis_TVALID,
    output wire        s_axis_TREADY, input wire s_axis_TLAST,
    output wire [31:0] m_axis_TDATA, output wire [3:0] m_axis_TKEEP, output wire m_axis_TVALID,
    input  wire        m_axis_TREADY, output wire m_axis_TLAST,
    output wire        interrupt
);
    wire [23:0] debug;
    assign m_axis_TKEEP = 4'hF;
    unet_accel core (
        .clk(ap_clk), .rst(~ap_rst_n),
        .s_axil_awaddr(s_axi_control_AWADDR), .s_axil_awprot(3'b000), .s_axil_awvalid(s_axi_control_AWVALID),
        .s_axil_awready(s_axi_control_AWREADY), .s_axil_wdata(s_axi_control_WDATA), .s_axil_wstrb(s_axi_control_WSTRB),
        .s_axil_wvalid(s_axi_control_WVALID), .s_axil_wready(s_axi_control_WREADY), .s_axil_bresp(s_axi_control_BRESP),
        .s_axil_bvalid(s_axi_control_BVALID), .s_axil_bready(s_axi_control_BREADY),
        .s_axil_araddr(s_axi_control_ARADDR), .s_axil_arprot(3'b000), .s_axil_arvalid(s_axi_control_ARVALID),
        .s_axil_arready(s_axi_control_ARREADY), .s_axil_rdata(s_axi_control_RDATA), .s_axil_rresp(s_axi_control_RRESP),
        .s_axil_rvalid(s_axi_control_RVALID), .s_axil_rready(s_axi_control_RREADY),
        .s_axis_tdata(s_axis_TDATA), .s_axis_tvalid(s_axis_TVALID), .s_axis_tready(s_axis_TREADY),
        .s_axis_tlast(s_axis_TLAST),
        .m_axis_tdata(m_axis_TDATA), .m_axis_tvalid(m_axis_TVALID), .m_axis_tready(m_axis_TREADY),
        .m_axis_tlast(m_axis_TLAST), .irq(interrupt), .debug(debug));
endmodule
