// zy_detile.h: the order stage 3 needs, from stage 2's pixels.
//
// Design note
// - Dataflow process between stage 2 and stage 3 (one pixel of p_oc lanes per cycle). Stage 1's
//   Winograd path writes each band in TILE ORDER (zy_winograd.h): per tile row (band rows y0,
//   y0 + 1), per 2x2 tile, its real pixels (0,0) (0,1) (1,0) (1,1). Stage 2 keeps that order.
// - Three modes, from the registers:
//   * pass (direct calls, bypass calls): loop DETILE forwards every pixel (raster order already);
//   * pool (Winograd call whose stage 3 is a 2x2 stride-2 max-pool; the plan makes band_rows even,
//     so every tile is one pool window): DETILE keeps the running maximum of a tile's real pixels
//     and writes it after the last; stage 3 then runs as a bypass of the pooled map (zy_accel.h),
//     which arrives in raster order. No row buffer: the pool costs p_oc comparators.
//   * detile (other Winograd calls): per tile row, DETILE forwards the first row's pixels as they
//     come and keeps the second row's in a row buffer [max_width][p_oc] (one write per cycle), then
//     DETILE_ROW replays the buffered row (one read per cycle). Stage 3 sees raster order. While
//     DETILE_ROW runs the input waits: the latency model charges it (dse.perf).
// - The row buffer is written in DETILE and read in DETILE_ROW, different loops, so no dependence
//   crosses an iteration; bound by the design point (ZY_IMPL_DETILE).
// What breaks if a parameter is wrong: an odd band_rows with several bands on a pooled Winograd
//   call would cut pool windows in two (the register check refuses it).
#ifndef ZY_DETILE_H
#define ZY_DETILE_H

#include "zy_common.h"

namespace zy {

template <class C>
bool winograd_call(const registers& r) {
    return C::winograd_engine && r.conv_enable && r.winograd;
}

// A Winograd call whose 2x2 stride-2 max-pool is done by detile (stage 3 then bypasses).
template <class C>
bool tile_pool_call(const registers& r) {
    return winograd_call<C>(r) && r.stage3 == STAGE3_MAXPOOL && r.pool_stride == 2;
}

// Raster order already (direct and bypass calls): forward every pixel.
template <class C>
void detile_pass(chan<pixel_t<C> >& in, chan<pixel_t<C> >& out, const registers& r) {
    const int folds = r.conv_enable ? (int)r.out_folds : fold_count<C>(r.in_channels_a);
    for (int f = 0; f < folds; f++) {
        int x = 0, y = 0;
    DETILE:
        for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=173056
            ZY_COUNT(DETILE);
            out.write(checked_read(in));
            done = next_raster(x, y, (int)r.width - 1, (int)r.height - 1);
        }
    }
}

template <class C>
void detile(chan<pixel_t<C> >& in, chan<pixel_t<C> >& out, const registers& r) {
    typedef typename C::data_t data_t;
    const int h = r.height;
    const int w = r.width;
    if (!winograd_call<C>(r)) {
        detile_pass<C>(in, out, r);
        return;
    }
    const bool pool = tile_pool_call<C>(r);
    data_t rowbuf[C::max_width][C::p_oc];
#pragma HLS ARRAY_RESHAPE variable=rowbuf dim=2 complete
    ZY_BIND_STORAGE(rowbuf, ram_s2p, ZY_IMPL_DETILE)
    for (int o = 0; o < (int)r.out_folds; o++) {
        int row0 = 0;
        for (int b = 0; b < (int)r.bands; b++) {
            const int r1 = imin(h, row0 + (int)r.band_rows);
            for (int y0 = row0; y0 < r1; y0 += 2) {
                const bool rows2 = y0 + 1 < r1;
                int x0 = 0, dx = 0, dy = 0;
                pixel_t<C> m = pixel_t<C>();
            DETILE:
                for (bool done = false; !done;) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=832
                    ZY_COUNT(DETILE);
                    const pixel_t<C> px = checked_read(in);
                    const bool cols2 = x0 + 1 < w;
                    const bool tile_last = dy == (rows2 ? 1 : 0) && dx == (cols2 ? 1 : 0);
                    if (pool) {
                        for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
                            m.lane[j] = (dx == 0 && dy == 0) || px.lane[j] > m.lane[j] ? px.lane[j] : m.lane[j];
                        }
                        if (tile_last) out.write(m);
                    } else if (dy == 0) {
                        out.write(px);
                    } else {
                        for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
                            rowbuf[x0 + dx][j] = px.lane[j];
                        }
                    }
                    done = tile_last && x0 + 2 >= w;
                    if (tile_last) {
                        dx = 0;
                        dy = 0;
                        x0 += 2;
                    } else if (dx == 0 && cols2) {
                        dx = 1;
                    } else {
                        dx = 0;
                        dy = 1;
                    }
                }
                if (!pool && rows2) {
                DETILE_ROW:
                    for (int x = 0; x < w; x++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=416
                        ZY_COUNT(DETILE_ROW);
                        pixel_t<C> px;
                        for (int j = 0; j < C::p_oc; j++) {
#pragma HLS UNROLL
                            px.lane[j] = rowbuf[x][j];
                        }
                        out.write(px);
                    }
                }
            }
            row0 += r.band_rows;
        }
    }
}

}  // namespace zy

#endif  // ZY_DETILE_H
