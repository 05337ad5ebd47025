<?php

namespace Fastpush\Laravel;

use Fastpush\Factory;
use Fastpush\PublisherInterface;
use Fastpush\TokenIssuer;
use Illuminate\Broadcasting\BroadcastManager;
use Illuminate\Support\ServiceProvider;

/**
 * Registers the "fastpush" broadcasting driver (Broadcast::extend) and
 * binds Fastpush\PublisherInterface and Fastpush\TokenIssuer from the
 * connection config('broadcasting.connections.fastpush'), for code that
 * publishes or issues tokens by itself.  Laravel finds it through
 * composer.json's extra.laravel.providers; else add it to config/app.php.
 */
class FastpushServiceProvider extends ServiceProvider
{
    public function register()
    {
        $this->app->singleton(PublisherInterface::class, function ($app) {
            return Factory::publisher(self::config($app));
        });
        $this->app->singleton(TokenIssuer::class, function ($app) {
            $tokens = Factory::tokenIssuer(self::config($app));
            if ($tokens === null)
                throw new \InvalidArgumentException('fastpush: no jwt_key or '
                    . 'jwt_key_file in broadcasting.connections.fastpush');
            return $tokens;
        });
    }

    public function boot()
    {
        $this->app->make(BroadcastManager::class)->extend('fastpush',
            function ($app, array $config) {
                return new FastpushBroadcaster(Factory::publisher($config),
                    Factory::tokenIssuer($config),
                    isset($config['public_channels']) ? (array) $config['public_channels'] : []);
            });
    }

    private static function config($app)
    {
        $config = $app['config']['broadcasting.connections.fastpush'];
        return is_array($config) ? $config : [];
    }
}
